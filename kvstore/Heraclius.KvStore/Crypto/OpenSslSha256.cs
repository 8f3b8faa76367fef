using System.Runtime.InteropServices;

namespace Heraclius.KvStore.Crypto;

/// <summary>
/// OpenSSL's low-level SHA-256 functions (<c>SHA256_Init</c>, <c>SHA256_Update</c>, <c>SHA256_Final</c>) from the
/// system's libcrypto 3, when it has them and they give the right digest.
/// </summary>
/// <remarks>
/// Why not <see cref="System.Security.Cryptography.IncrementalHash"/> alone: .NET reaches OpenSSL through EVP, and
/// every call of its shim clears OpenSSL's thread error queue and finalizes and re-initializes an EVP context.
/// For the short inputs hashed here (a request, a Merkle node) that was most of the cost: 0.5-0.95 µs a hash of
/// 150 bytes against 0.17-0.23 µs through these functions (the same SHA-NI code inside), measured on this kind of
/// machine. Requests are hashed by the client and by every replica, so in <c>bench kv</c> the shim's error queue
/// alone was 2.7% of all CPU. The functions are deprecated in OpenSSL 3 but exported; where they are missing (no
/// libcrypto 3, another OS), <see cref="Sha256Hasher"/> uses IncrementalHash.
/// </remarks>
internal static class OpenSslSha256
{
    private const string Library = "libcrypto.so.3";

    /// <summary>Bytes of an OpenSSL <c>SHA256_CTX</c> (112), rounded up.</summary>
    public const int ContextSize = 128;

    /// <summary>True when the three functions load and hash a known input to its known digest.</summary>
    public static bool Available { get; } = Probe();

    public static void Init(byte[] context) => Check(Sha256Init(ref context[0]));

    public static void Update(byte[] context, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        Check(Sha256Update(ref context[0], ref MemoryMarshal.GetReference(data), (nuint)data.Length));
    }

    public static void Final(byte[] context, Span<byte> digest)
    {
        if (digest.Length < Hash32.Size)
        {
            throw new ArgumentException("the digest needs 32 bytes", nameof(digest));
        }

        Check(Sha256Final(ref MemoryMarshal.GetReference(digest), ref context[0]));
    }

    private static void Check(int result)
    {
        if (result != 1)
        {
            throw new InvalidOperationException("OpenSSL's SHA-256 failed");
        }
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux()
            || !NativeLibrary.TryLoad(Library, typeof(OpenSslSha256).Assembly, DllImportSearchPath.SafeDirectories, out var handle))
        {
            return false;
        }

        if (!NativeLibrary.TryGetExport(handle, "SHA256_Init", out _)
            || !NativeLibrary.TryGetExport(handle, "SHA256_Update", out _)
            || !NativeLibrary.TryGetExport(handle, "SHA256_Final", out _))
        {
            return false;
        }

        try
        {
            // FIPS 180-2's first example: SHA-256("abc").
            var context = new byte[ContextSize];
            Span<byte> digest = stackalloc byte[Hash32.Size];
            Init(context);
            Update(context, "abc"u8);
            Final(context, digest);
            return Convert.ToHexStringLower(digest) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    // DllImport rather than LibraryImport: the generated marshalling of LibraryImport needs unsafe code, which the build forbids.
    [DllImport(Library, EntryPoint = "SHA256_Init")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Sha256Init(ref byte context);

    [DllImport(Library, EntryPoint = "SHA256_Update")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Sha256Update(ref byte context, ref byte data, nuint length);

    [DllImport(Library, EntryPoint = "SHA256_Final")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Sha256Final(ref byte digest, ref byte context);
}
