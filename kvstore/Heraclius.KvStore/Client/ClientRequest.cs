using System.Buffers;
using System.Buffers.Binary;
using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Client;

/// <summary>
/// One operation of a client: its sequence number (unique per client, never reused) and opaque
/// operation bytes. Parsed requests' operations are slices of their batch's bytes, not copies.
/// </summary>
public sealed record ClientRequest(ulong Seq, ReadOnlyMemory<byte> Operation)
{
    public const int MaxOperationBytes = 128 * 1024;

    /// <summary>H(clientId ‖ seq ‖ operation): echoed in the answer so an old decision can never answer a new request.</summary>
    public Hash32 Hash(string clientId)
    {
        // Encoded in a stack or pooled buffer: every replica hashes every request it executes.
        var idBytes = System.Text.Encoding.UTF8.GetByteCount(clientId);
        var length = 4 + idBytes + 8 + 4 + Operation.Length;
        byte[]? rented = null;
        var buffer = length <= 1024 ? stackalloc byte[length] : (rented = ArrayPool<byte>.Shared.Rent(length)).AsSpan(0, length);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)idBytes);
        System.Text.Encoding.UTF8.GetBytes(clientId, buffer[4..]);
        var at = 4 + idBytes;
        BinaryPrimitives.WriteUInt64LittleEndian(buffer[at..], Seq);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[(at + 8)..], (uint)Operation.Length);
        Operation.Span.CopyTo(buffer[(at + 12)..]);
        var hash = Hash32.Of(buffer);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return hash;
    }
}
