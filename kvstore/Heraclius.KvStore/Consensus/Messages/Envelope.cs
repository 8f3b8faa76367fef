using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>
/// Frames every consensus message as u8 type ‖ u32 sender ‖ body, and for the types that are
/// forwarded as proof (view-change, new-view) appends a signature over
/// "HRCL-MSG" ‖ cluster ‖ SHA-256(every byte before it). Votes carry their own statement signature instead,
/// and a pre-prepare its leader's prepare signature (see <see cref="PrePrepareMessage"/>).
/// </summary>
public static class Envelope
{
    public const int HeaderSize = 5;
    private static readonly byte[] Domain = "HRCL-MSG"u8.ToArray();

    public static bool IsSigned(MessageType type) =>
        type is MessageType.ViewChange or MessageType.NewView;

    public static CanonicalWriter Begin(MessageType type, int sender, int capacity = 256)
    {
        var w = new CanonicalWriter(capacity);
        w.U8((byte)type);
        w.U32((uint)sender);
        return w;
    }

    public static byte[] Finish(CanonicalWriter w, string cluster, SigningKey? key)
    {
        var type = (MessageType)w.WrittenSpan[0];
        if (!IsSigned(type))
        {
            return w.Detach();
        }

        ArgumentNullException.ThrowIfNull(key);
        Span<byte> signature = stackalloc byte[SigningKey.SignatureSize];
        var size = StatementSize(cluster);
        var statement = size <= MaxStackStatement ? stackalloc byte[size] : new byte[size];
        WriteSignedStatement(statement, cluster, w.WrittenSpan);
        key.Sign(statement, signature);
        w.Fixed(signature);
        return w.Detach();
    }

    /// <summary>The size of an envelope around a body of <paramref name="bodyLength"/> bytes, with its signature when <paramref name="type"/> is signed.</summary>
    public static int Size(MessageType type, int bodyLength) => HeaderSize + bodyLength + (IsSigned(type) ? SigningKey.SignatureSize : 0);

    /// <summary>
    /// What a signed message's signature covers: "HRCL-MSG" ‖ cluster ‖ SHA-256(every byte before the
    /// signature). Signing the digest, not the bytes: a VIEW-CHANGE or NEW-VIEW may carry a whole proposal, and
    /// Ed25519 hashes its message twice to sign and once per verification with SHA-512, which cost
    /// more than a quarter of a replica's CPU; SHA-256 once (hardware-accelerated) is far cheaper.
    /// </summary>
    public static byte[] SignedStatement(string cluster, ReadOnlySpan<byte> body)
    {
        var statement = new byte[StatementSize(cluster)];
        WriteSignedStatement(statement, cluster, body);
        return statement;
    }

    // 8 + 4 + 64 + 32 bytes for the longest cluster id a header carries: built on the stack for every
    // signed message sent or checked, on the heap only for an id too long to be valid anyway.
    private const int MaxStackStatement = 256;

    private static int StatementSize(string cluster) => Domain.Length + 4 + System.Text.Encoding.UTF8.GetByteCount(cluster) + Hash32.Size;

    private static void WriteSignedStatement(Span<byte> span, string cluster, ReadOnlySpan<byte> body)
    {
        var clusterBytes = System.Text.Encoding.UTF8.GetByteCount(cluster);
        Domain.CopyTo(span);
        var at = Domain.Length;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(span[at..], (uint)clusterBytes);
        at += 4;
        System.Text.Encoding.UTF8.GetBytes(cluster, span[at..]);
        Hash32.Of(body).WriteTo(span[(at + clusterBytes)..]);
    }

    /// <summary>Splits a message into type, sender and the body (signature excluded); throws when malformed.</summary>
    public static (MessageType Type, int Sender, ReadOnlyMemory<byte> Body) Open(ReadOnlyMemory<byte> message)
    {
        var span = message.Span;
        if (span.Length < HeaderSize)
        {
            throw new MalformedMessageException("short message");
        }

        var type = (MessageType)span[0];
        // Every defined type, not a range: a range ending at Status silently refused ForwardInbound (12) when it was added.
        if (!Enum.IsDefined(type))
        {
            throw new MalformedMessageException("unknown message type");
        }

        var sender = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(span[1..]);
        if (sender > 1024)
        {
            throw new MalformedMessageException("sender out of range");
        }

        var end = span.Length;
        if (IsSigned(type))
        {
            end -= SigningKey.SignatureSize;
            if (end < HeaderSize)
            {
                throw new MalformedMessageException("short signed message");
            }
        }

        return (type, (int)sender, message[HeaderSize..end]);
    }

    public static bool VerifySignature(ReadOnlySpan<byte> message, string cluster, VerifyingKey key)
    {
        if (message.Length < HeaderSize + SigningKey.SignatureSize)
        {
            return false;
        }

        var bodyEnd = message.Length - SigningKey.SignatureSize;
        var size = StatementSize(cluster);
        var statement = size <= MaxStackStatement ? stackalloc byte[size] : new byte[size];
        WriteSignedStatement(statement, cluster, message[..bodyEnd]);
        return key.Verify(statement, message[bodyEnd..]);
    }
}
