using NSec.Cryptography;

namespace Heraclius.KvStore.Crypto;

/// <summary>
/// An Ed25519 public key. Verification uses libsodium's rule set through NSec (canonical
/// encodings required, small-order keys rejected); see docs/design.md, "Signature rules".
/// </summary>
public sealed class VerifyingKey : IEquatable<VerifyingKey>
{
    public const int Size = 32;

    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;
    private readonly PublicKey _key;
    private readonly byte[] _bytes;

    public VerifyingKey(ReadOnlySpan<byte> raw)
    {
        if (raw.Length != Size)
        {
            throw new ArgumentException("an Ed25519 public key is 32 bytes", nameof(raw));
        }

        _bytes = raw.ToArray();
        if (!PublicKey.TryImport(Algorithm, raw, KeyBlobFormat.RawPublicKey, out var key) || key is null)
        {
            throw new ArgumentException("not a valid Ed25519 public key", nameof(raw));
        }

        _key = key;
    }

    public ReadOnlySpan<byte> Bytes => _bytes;

    public static VerifyingKey FromBase64(string text) => new(Convert.FromBase64String(text));

    public string ToBase64() => Convert.ToBase64String(_bytes);

    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        CryptoCounters.CountVerify();
        return signature.Length == SigningKey.SignatureSize && Algorithm.Verify(_key, data, signature);
    }

    public bool Equals(VerifyingKey? other) => other is not null && _bytes.AsSpan().SequenceEqual(other._bytes);

    public override bool Equals(object? obj) => obj is VerifyingKey other && Equals(other);

    public override int GetHashCode() => BitConverter.ToInt32(_bytes, 0);

    public override string ToString() => ToBase64();
}
