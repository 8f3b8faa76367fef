using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;

namespace Heraclius.KvStore.Client;

/// <summary>
/// Requests of one client for one cluster, signed once as a batch. Wire format:
/// clientId ‖ cluster ‖ u32 count ‖ (u64 seq ‖ bytes op)* ‖ signature(64), where the signature
/// covers "HRCL-BATCH" ‖ SHA-256(every byte before it). The bytes are shipped and proposed unchanged.
/// A parsed batch keeps the memory it was parsed from (its requests' operations are slices of it):
/// the caller hands over bytes nothing will write again.
/// </summary>
public sealed class ClientBatch
{
    public const int MaxRequests = 65536;
    public const int MaxBatchBytes = 8 * 1024 * 1024;
    public const int MaxClientIdBytes = 128;
    private static readonly byte[] Domain = "HRCL-BATCH"u8.ToArray();

    private ClientBatch(string clientId, string cluster, IReadOnlyList<ClientRequest> requests, ReadOnlyMemory<byte> bytes, int signedLength)
    {
        ClientId = clientId;
        Cluster = cluster;
        Requests = requests;
        Bytes = bytes;
        SignedLength = signedLength;
        Digest = Hash32.Of(bytes.Span);
    }

    public string ClientId { get; }

    public string Cluster { get; }

    public IReadOnlyList<ClientRequest> Requests { get; }

    public ReadOnlyMemory<byte> Bytes { get; }

    public Hash32 Digest { get; }

    private int SignedLength { get; }

    public static ClientBatch Create(string clientId, string cluster, IReadOnlyList<ClientRequest> requests, SigningKey key)
    {
        // Sized exactly, so the batch is written once and handed over without a copy (it was grown from
        // 256 bytes by doubling, then copied out); indexed, so no enumerator is boxed.
        var size = CanonicalWriter.StringSize(clientId) + CanonicalWriter.StringSize(cluster) + 4 + SigningKey.SignatureSize;
        for (var i = 0; i < requests.Count; i++)
        {
            size += 8 + 4 + requests[i].Operation.Length;
        }

        var w = new CanonicalWriter(size);
        w.String(clientId);
        w.String(cluster);
        w.U32((uint)requests.Count);
        for (var i = 0; i < requests.Count; i++)
        {
            w.U64(requests[i].Seq);
            w.Bytes(requests[i].Operation.Span);
        }

        var signedLength = w.Length;
        Span<byte> signature = stackalloc byte[SigningKey.SignatureSize];
        Sign(key, w.WrittenSpan, signature);
        w.Fixed(signature);
        return new ClientBatch(clientId, cluster, requests, w.Detach(), signedLength);
    }

    // "HRCL-BATCH" ‖ SHA-256(body): 42 bytes whatever the batch holds.
    private static readonly int StatementSize = Domain.Length + Hash32.Size;

    /// <summary>
    /// The statement a batch's signature covers: "HRCL-BATCH" ‖ SHA-256(body), not the body itself. Ed25519 hashes its
    /// message with SHA-512 twice to sign and once per check, after the body was copied behind the domain tag; a batch of
    /// 500 requests is ~40 KB, checked by every member of the cluster and by the node it was submitted to. SHA-256 once
    /// (hardware-accelerated here) over the body in place is the cheaper pass, and as collision-resistant. Measured on one
    /// core for a 450-request batch (38 KB), 3 runs of 2,000 checks: 113-126 us a check against 213-251 us before (the
    /// bare Ed25519 check of a 42-byte statement: 90-107 us).
    /// </summary>
    private static void WriteStatement(ReadOnlySpan<byte> body, Span<byte> statement)
    {
        Domain.CopyTo(statement);
        Hash32.Of(body).WriteTo(statement[Domain.Length..]);
    }

    private static void Sign(SigningKey key, ReadOnlySpan<byte> body, Span<byte> signature)
    {
        Span<byte> statement = stackalloc byte[StatementSize];
        WriteStatement(body, statement);
        key.Sign(statement, signature);
    }

    /// <summary>
    /// Parses a batch without copying it: the batch and its operations are views of
    /// <paramref name="bytes"/>, which must never change afterwards. Throws
    /// <see cref="MalformedMessageException"/> on anything ill-formed.
    /// </summary>
    public static ClientBatch Parse(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.Length > MaxBatchBytes)
        {
            throw new MalformedMessageException("batch too large");
        }

        var r = CanonicalReader.Over(bytes);
        var clientId = r.String(MaxClientIdBytes);
        var cluster = r.String(Decisions.DecisionHeader.MaxClusterIdBytes);
        var count = r.Count(MaxRequests);
        if (count == 0)
        {
            throw new MalformedMessageException("empty batch");
        }

        var requests = new ClientRequest[count];
        for (var i = 0; i < count; i++)
        {
            requests[i] = new ClientRequest(r.U64(), r.BytesMemory(ClientRequest.MaxOperationBytes));
        }

        var signedLength = r.Position;
        r.Fixed(SigningKey.SignatureSize);
        r.End();
        return new ClientBatch(clientId, cluster, requests, bytes, signedLength);
    }

    public bool VerifySignature(VerifyingKey key)
    {
        var bytes = Bytes.Span;
        Span<byte> statement = stackalloc byte[StatementSize];
        WriteStatement(bytes[..SignedLength], statement);
        return key.Verify(statement, bytes[SignedLength..]);
    }
}
