using System.Security.Cryptography;

namespace Heraclius.KvStore.Crypto;

/// <summary>
/// A reusable SHA-256 hasher for short inputs: append parts, then <see cref="GetHashAndReset"/>. Through OpenSSL's
/// low-level functions where available (see <see cref="OpenSslSha256"/>), else through IncrementalHash; both give
/// SHA-256, so the choice never changes a digest.
/// </summary>
internal sealed class Sha256Hasher : IDisposable
{
    private readonly byte[]? _context;
    private readonly IncrementalHash? _portable;

    private Sha256Hasher(bool native)
    {
        if (native)
        {
            _context = new byte[OpenSslSha256.ContextSize];
            OpenSslSha256.Init(_context);
        }
        else
        {
            _portable = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        }
    }

    /// <summary>True when this hasher uses OpenSSL's low-level functions.</summary>
    public bool IsNative => _context is not null;

    /// <summary>The fastest hasher this process has.</summary>
    public static Sha256Hasher Create() => new(OpenSslSha256.Available);

    /// <summary>The IncrementalHash one, whatever the platform (tests compare the two).</summary>
    public static Sha256Hasher CreatePortable() => new(native: false);

    public void AppendData(ReadOnlySpan<byte> data)
    {
        if (_context is not null)
        {
            OpenSslSha256.Update(_context, data);
        }
        else
        {
            _portable!.AppendData(data);
        }
    }

    /// <summary>Writes the digest of everything appended since the last reset into <paramref name="destination"/> (32 bytes) and starts afresh.</summary>
    public void GetHashAndReset(Span<byte> destination)
    {
        if (_context is not null)
        {
            OpenSslSha256.Final(_context, destination);
            OpenSslSha256.Init(_context);
        }
        else
        {
            _portable!.GetHashAndReset(destination);
        }
    }

    /// <summary>The digest of everything appended since the last reset, as a <see cref="Hash32"/>; starts afresh.</summary>
    public Hash32 GetHashAndReset()
    {
        Span<byte> digest = stackalloc byte[Hash32.Size];
        GetHashAndReset(digest);
        return Hash32.Parse(digest);
    }

    public void Dispose() => _portable?.Dispose();
}
