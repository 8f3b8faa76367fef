using System.Buffers.Binary;
using System.Numerics;

namespace Heraclius.KvStore.Storage;

/// <summary>CRC-32C (Castagnoli), the checksum of WAL records, with the algebra the tail search needs.</summary>
/// <remarks>
/// System.IO.Hashing only ships CRC-32 (IEEE); <see cref="BitOperations.Crc32C(uint, ulong)"/> uses the
/// SSE4.2 / ARMv8 instruction where present and a table otherwise, and matches the standard
/// (init 0xFFFFFFFF, reflected, final xor 0xFFFFFFFF) once wrapped as below.
/// </remarks>
internal static class Crc32C
{
    // Reflected Castagnoli polynomial; in the reflected representation x^0 is the top bit.
    private const uint Polynomial = 0x82F63B78;
    private const uint One = 1u << 31;

    // PowersOfX[k] = x^(2^k) mod P, enough for any shift a long can express.
    private static readonly uint[] PowersOfX = BuildPowersOfX();

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>CRC of (A ‖ data) given <paramref name="crc"/> = CRC of A (0 for the empty A), as zlib's crc32(crc, buf).</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var state = ~crc;
        while (data.Length >= sizeof(ulong))
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }

        foreach (var b in data)
        {
            state = BitOperations.Crc32C(state, b);
        }

        return ~state;
    }

    /// <summary>
    /// The part of CRC(A ‖ B) that A contributes, given <paramref name="crc"/> = CRC(A) and
    /// |B| = <paramref name="length"/>: CRC(A ‖ B) = Shift(CRC(A), |B|) ^ CRC(B). This lets the
    /// CRC of any byte range be derived from two prefix CRCs in O(log length) (zlib's crc32_combine).
    /// </summary>
    public static uint Shift(uint crc, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var factor = One;
        var bits = length;
        // x^(8·length) = product of x^(2^(k+3)) over the set bits k of length.
        for (var k = 3; bits != 0; k++, bits >>= 1)
        {
            if ((bits & 1) != 0)
            {
                factor = Multiply(PowersOfX[k], factor);
            }
        }

        return Multiply(factor, crc);
    }

    // a·b mod P in the reflected representation.
    private static uint Multiply(uint a, uint b)
    {
        uint product = 0;
        for (var m = One; m != 0; m >>= 1)
        {
            if ((a & m) != 0)
            {
                product ^= b;
            }

            b = (b & 1) != 0 ? (b >> 1) ^ Polynomial : b >> 1;
        }

        return product;
    }

    private static uint[] BuildPowersOfX()
    {
        var powers = new uint[67];
        var p = One >> 1; // x^1
        powers[0] = p;
        for (var k = 1; k < powers.Length; k++)
        {
            p = Multiply(p, p);
            powers[k] = p;
        }

        return powers;
    }
}
