using System.Runtime.InteropServices;

namespace Heraclius.KvStore.Storage;

/// <summary>Makes a directory's entries (a created or renamed file) durable.</summary>
/// <remarks>
/// fsync on a file does not persist the directory entry that names it: after a crash a renamed file
/// may still carry its old name. .NET refuses to open a directory (File.OpenHandle and FileStream
/// throw UnauthorizedAccessException), so on Linux and macOS this calls open(2)/fsync(2)/close(2)
/// from libc. On Windows there is no portable equivalent (FlushFileBuffers needs a handle opened
/// with backup semantics); NTFS journals the rename, but its durability on return is not
/// guaranteed there. Production nodes run on Linux.
/// </remarks>
internal static class DirectorySync
{
    private const int ReadOnly = 0; // O_RDONLY is 0 on every Unix; O_DIRECTORY differs per architecture, so it is not used.

    public static void Flush(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var fd = Open(directory, ReadOnly);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory '{directory}' to fsync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory '{directory}' failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    // DllImport rather than LibraryImport: the generated marshalling of LibraryImport needs unsafe code, which the build forbids.
    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Fsync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Close(int fd);
}
