using Heraclius.KvStore.Storage;

namespace Heraclius.KvStore.Tests.Storage;

public sealed class Crc32CTests
{
    /// <summary>Bit-at-a-time CRC-32C straight from the definition, to check the fast one against.</summary>
    public static uint Reference(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFF_FFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78u : crc >> 1;
            }
        }

        return ~crc;
    }

    [Fact]
    public void StandardCheckValue_Matches()
    {
        Assert.Equal(0xE306_9283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
    }

    [Fact]
    public void RandomInputs_MatchTheReference_WholeAndInPieces()
    {
        var random = new Random(1);
        for (var i = 0; i < 200; i++)
        {
            var data = new byte[random.Next(0, 300)];
            random.NextBytes(data);
            var split = random.Next(0, data.Length + 1);

            Assert.Equal(Reference(data), Crc32C.Compute(data));
            Assert.Equal(Reference(data), Crc32C.Append(Crc32C.Compute(data.AsSpan(0, split)), data.AsSpan(split)));
        }
    }

    [Fact]
    public void Shift_CombinesPrefixAndSuffix()
    {
        var random = new Random(2);
        for (var i = 0; i < 200; i++)
        {
            var data = new byte[random.Next(0, 5000)];
            random.NextBytes(data);
            var split = random.Next(0, data.Length + 1);
            var prefix = Crc32C.Compute(data.AsSpan(0, split));
            var suffix = Crc32C.Compute(data.AsSpan(split));

            Assert.Equal(Crc32C.Compute(data), Crc32C.Shift(prefix, data.Length - split) ^ suffix);
        }
    }
}
