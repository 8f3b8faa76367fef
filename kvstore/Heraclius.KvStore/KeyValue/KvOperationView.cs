using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.KeyValue;

/// <summary>
/// A parsed <see cref="KvOperation"/> that points into the bytes it was read from: the replicas
/// parse every operation they execute or route, and copying each key and value into a record
/// first was a large share of their allocations.
/// </summary>
public readonly ref struct KvOperationView
{
    private KvOperationView(KvOpCode op, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool hasValue, ulong expectedVersion)
    {
        Op = op;
        Key = key;
        Value = value;
        HasValue = hasValue;
        ExpectedVersion = expectedVersion;
    }

    public KvOpCode Op { get; }

    public ReadOnlySpan<byte> Key { get; }

    /// <summary>Put and Cas only (see <see cref="HasValue"/>).</summary>
    public ReadOnlySpan<byte> Value { get; }

    public bool HasValue { get; }

    public ulong ExpectedVersion { get; }

    /// <summary>Parses an operation; false when it is malformed, exactly when <see cref="KvOperation.TryParse"/> gives null.</summary>
    public static bool TryParse(ReadOnlySpan<byte> bytes, out KvOperationView view)
    {
        view = default;
        try
        {
            var r = new CanonicalReader(bytes);
            var op = (KvOpCode)r.U8();
            var key = r.BytesSpan(KvOperation.MaxKeyBytes);
            if (key.Length == 0)
            {
                return false;
            }

            switch (op)
            {
                case KvOpCode.Get:
                case KvOpCode.Delete:
                    view = new KvOperationView(op, key, default, false, 0);
                    break;
                case KvOpCode.Put:
                    view = new KvOperationView(op, key, r.BytesSpan(KvOperation.MaxValueBytes), true, 0);
                    break;
                case KvOpCode.Cas:
                    var value = r.BytesSpan(KvOperation.MaxValueBytes);
                    view = new KvOperationView(op, key, value, true, r.U64());
                    break;
                default:
                    return false;
            }

            r.End();
            return true;
        }
        catch (MalformedMessageException)
        {
            view = default;
            return false;
        }
    }
}
