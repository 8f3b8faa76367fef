using NSec.Cryptography;

namespace Heraclius.KvStore.Crypto;

/// <summary>An Ed25519 private key of a node or a client. Only its owner holds it.</summary>
public sealed class SigningKey : IDisposable
{
    public const int SignatureSize = 64;
    public const int PrivateKeySize = 32;

    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    private SigningKey(Key key)
    {
        _key = key;
        PublicKey = new VerifyingKey(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    public VerifyingKey PublicKey { get; }

    public static SigningKey Generate() =>
        new(Key.Create(Algorithm, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    /// <summary>Imports the 32-byte seed form of the key.</summary>
    public static SigningKey FromPrivateBytes(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != PrivateKeySize)
        {
            throw new ArgumentException("an Ed25519 private key is 32 bytes", nameof(seed));
        }

        return new SigningKey(Key.Import(Algorithm, seed, KeyBlobFormat.RawPrivateKey,
            new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));
    }

    public byte[] ExportPrivateBytes() => _key.Export(KeyBlobFormat.RawPrivateKey);

    public byte[] Sign(ReadOnlySpan<byte> data)
    {
        var signature = new byte[SignatureSize];
        Sign(data, signature);
        return signature;
    }

    public void Sign(ReadOnlySpan<byte> data, Span<byte> signature)
    {
        Algorithm.Sign(_key, data, signature);
        CryptoCounters.CountSign();
    }

    public void Dispose() => _key.Dispose();
}
