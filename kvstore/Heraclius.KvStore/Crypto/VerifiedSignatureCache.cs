namespace Heraclius.KvStore.Crypto;

/// <summary>
/// Signatures this process has already verified, remembered by SHA-256 of public key ‖ signature ‖ statement (the
/// first two of fixed size, so the bytes name one triple), for clients that share it: a client process with several
/// connections receives every commit signature of a decision once per connection, in each compact decision it is
/// sent, and checked each at ~65-100 µs. A hash costs about 1 µs. Bounded: beyond its capacity the oldest entry is
/// forgotten (and verified again when it comes back). Thread-safe.
/// </summary>
/// <remarks>
/// Clients share one per process; a node keeps one of its own for the QCs of inbound groups (see
/// <c>VerifiedGroupCache.Signatures</c>). Never one between nodes: each node verifies every signature itself, as it would
/// on a machine of its own, and a cache shared by the nodes hosted in one process (tests, benchmarks) would let one
/// node's check stand for another's.
/// </remarks>
public sealed class VerifiedSignatureCache
{
    private readonly int _capacity;
    private readonly Lock _gate = new();
    private readonly HashSet<Hash32> _known = [];
    private readonly Queue<Hash32> _order = new();
    private long _hits;

    public VerifiedSignatureCache(int capacity = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>Signatures remembered now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _known.Count;
            }
        }
    }

    /// <summary>Signatures answered from the cache instead of verified again.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Whether <paramref name="signature"/> is <paramref name="key"/>'s over <paramref name="statement"/>: remembered, or verified now (and remembered when valid).</summary>
    public bool Verify(VerifyingKey key, ReadOnlySpan<byte> statement, ReadOnlySpan<byte> signature)
    {
        if (signature.Length != SigningKey.SignatureSize)
        {
            return false;
        }

        var id = Identify(key, statement, signature);
        lock (_gate)
        {
            if (_known.Contains(id))
            {
                _hits++;
                return true;
            }
        }

        if (!key.Verify(statement, signature))
        {
            return false;
        }

        lock (_gate)
        {
            if (_known.Add(id))
            {
                _order.Enqueue(id);
                if (_order.Count > _capacity)
                {
                    _known.Remove(_order.Dequeue());
                }
            }
        }

        return true;
    }

    private static Hash32 Identify(VerifyingKey key, ReadOnlySpan<byte> statement, ReadOnlySpan<byte> signature)
    {
        var hasher = Hash32.ThreadHasher;
        hasher.AppendData(key.Bytes);
        hasher.AppendData(signature);
        hasher.AppendData(statement);
        return hasher.GetHashAndReset();
    }
}
