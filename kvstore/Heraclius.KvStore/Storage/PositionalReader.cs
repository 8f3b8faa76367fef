using Microsoft.Win32.SafeHandles;

namespace Heraclius.KvStore.Storage;

/// <summary>Reads a file region [0, end) by offset through one reusable window, so a scan of small records costs few syscalls.</summary>
internal sealed class PositionalReader
{
    public const int WindowSize = 64 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly long _end;
    private readonly byte[] _window = new byte[WindowSize];
    private long _windowStart;
    private int _windowCount;

    public PositionalReader(SafeFileHandle handle, long end)
    {
        _handle = handle;
        _end = end;
    }

    /// <summary>
    /// <paramref name="count"/> bytes at <paramref name="offset"/>, valid until the next call.
    /// The range must lie inside [0, end) and count must not exceed <see cref="WindowSize"/>.
    /// </summary>
    public ReadOnlySpan<byte> Peek(long offset, int count)
    {
        if (offset < _windowStart || offset + count > _windowStart + _windowCount)
        {
            _windowStart = offset;
            _windowCount = Fill(_window.AsSpan(0, (int)Math.Min(WindowSize, _end - offset)), offset);
            if (_windowCount < count)
            {
                throw new EndOfStreamException($"file ended at {offset + _windowCount}, expected data up to {offset + count}");
            }
        }

        return _window.AsSpan((int)(offset - _windowStart), count);
    }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/>; large reads bypass the window.</summary>
    public void Read(long offset, Span<byte> destination)
    {
        if (destination.Length <= WindowSize)
        {
            Peek(offset, destination.Length).CopyTo(destination);
            return;
        }

        if (Fill(destination, offset) < destination.Length)
        {
            throw new EndOfStreamException($"file ended before {offset + destination.Length}");
        }
    }

    private int Fill(Span<byte> destination, long offset)
    {
        var total = 0;
        while (total < destination.Length)
        {
            var read = RandomAccess.Read(_handle, destination[total..], offset + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}
