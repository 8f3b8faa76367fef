using Heraclius.KvStore.Client;
using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.KeyValue;

namespace Heraclius.KvStore.Tests.Client;

/// <summary>
/// A client batch is signed once, over "HRCL-BATCH" ‖ SHA-256 of every byte before the signature (docs/design.md,
/// Formats): its client's key verifies it, no other key does, and no byte of it can change unnoticed.
/// </summary>
public sealed class ClientBatchSignatureTests
{
    private static ClientBatch Batch(SigningKey key) =>
        ClientBatch.Create("client-0", "c0",
            [.. Enumerable.Range(1, 3).Select(i => new ClientRequest((ulong)i, KvOperation.Put([(byte)i, 7], [9, 9, (byte)i]).ToBytes()))], key);

    [Fact]
    public void TheSignatureCoversTheDomainTagAndTheDigestOfTheBody()
    {
        using var key = SigningKey.Generate();
        var bytes = Batch(key).Bytes.ToArray();
        var body = bytes.AsSpan(0, bytes.Length - SigningKey.SignatureSize);
        var statement = "HRCL-BATCH"u8.ToArray().Concat(Hash32.Of(body).ToArray()).ToArray();

        Assert.Equal(42, statement.Length);
        Assert.True(key.PublicKey.Verify(statement, bytes.AsSpan(bytes.Length - SigningKey.SignatureSize)));
    }

    [Fact]
    public void OnlyTheClientsKeyVerifiesIt()
    {
        using var key = SigningKey.Generate();
        using var other = SigningKey.Generate();
        var batch = ClientBatch.Parse(Batch(key).Bytes.ToArray());

        Assert.True(batch.VerifySignature(key.PublicKey));
        Assert.False(batch.VerifySignature(other.PublicKey));
    }

    [Fact]
    public void EveryFlippedByte_FailsToParseOrToVerify()
    {
        using var key = SigningKey.Generate();
        var bytes = Batch(key).Bytes.ToArray();
        for (var i = 0; i < bytes.Length; i++)
        {
            var altered = (byte[])bytes.Clone();
            altered[i] ^= 0x01;
            ClientBatch parsed;
            try
            {
                parsed = ClientBatch.Parse(altered);
            }
            catch (MalformedMessageException)
            {
                continue;
            }

            Assert.False(parsed.VerifySignature(key.PublicKey), $"byte {i} of {bytes.Length} flipped and still verified");
        }
    }
}
