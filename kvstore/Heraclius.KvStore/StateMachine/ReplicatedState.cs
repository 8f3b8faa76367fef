using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.Encoding;
using Heraclius.KvStore.Merkle;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// The whole replicated state of a cluster as one byte-keyed map, split into a fixed number of
/// buckets by the stable key hash. A bucket is a snapshot chunk; its leaf is H(0x00 ‖ the bucket's
/// entries in key order), and the state root is the Merkle root over the buckets. Only buckets
/// written since the last root are re-hashed, so a checkpoint costs what changed, not the state size.
/// </summary>
public sealed class ReplicatedState
{
    public const int MaxKeyBytes = 4096;
    public const int MaxValueBytes = 16 * 1024 * 1024;

    private readonly Dictionary<byte[], byte[]>[] _buckets;
    private readonly Hash32[] _bucketHashes;
    private readonly byte[]?[] _chunks;
    private readonly bool[] _dirty;
    private readonly int _mask;
    private long _count;

    // The undo log of the open transaction, kept for the next one: a proposal of thousands of
    // requests grows it to thousands of entries, and regrowing it per proposal showed in allocations.
    private List<(byte[] Key, byte[]? Old)>? _spareUndoLog;

    public ReplicatedState(int bucketCount = 1024)
    {
        if (bucketCount <= 0 || (bucketCount & (bucketCount - 1)) != 0)
        {
            throw new ArgumentException("bucket count must be a power of two", nameof(bucketCount));
        }

        _mask = bucketCount - 1;
        _buckets = new Dictionary<byte[], byte[]>[bucketCount];
        _bucketHashes = new Hash32[bucketCount];
        _chunks = new byte[bucketCount][];
        _dirty = new bool[bucketCount];
        for (var i = 0; i < bucketCount; i++)
        {
            _buckets[i] = new Dictionary<byte[], byte[]>(ByteArrayComparer.Instance);
            _dirty[i] = true;
        }
    }

    public int BucketCount => _buckets.Length;

    /// <summary>An empty undo log for a new transaction: the one the last closed transaction returned, if any.</summary>
    internal List<(byte[] Key, byte[]? Old)> TakeUndoLog()
    {
        var log = _spareUndoLog ?? [];
        _spareUndoLog = null;
        return log;
    }

    internal void ReturnUndoLog(List<(byte[] Key, byte[]? Old)> log)
    {
        // An exceptional proposal's log is not worth keeping at its size.
        if (log.Capacity <= 1 << 20)
        {
            _spareUndoLog = log;
        }
    }

    /// <summary>Counts entries whose key starts with <paramref name="prefix"/> (diagnostics and tests; not for execution).</summary>
    public long CountWithPrefix(byte prefix) => _buckets.Sum(b => b.Keys.Count(k => k.Length > 0 && k[0] == prefix));

    public long Count => _count;

    public int BucketOf(ReadOnlySpan<byte> key) => (int)(StableHash.Of(key) & (ulong)_mask);

    public byte[]? Get(byte[] key) => _buckets[BucketOf(key)].TryGetValue(key, out var v) ? v : null;

    /// <summary>Sets or (with null) removes a key; returns the previous value.</summary>
    public byte[]? Set(byte[] key, byte[]? value)
    {
        var b = BucketOf(key);
        var bucket = _buckets[b];
        _dirty[b] = true;
        _chunks[b] = null;
        if (value is null)
        {
            if (bucket.Remove(key, out var old))
            {
                _count--;
                return old;
            }

            return null;
        }

        if (bucket.TryGetValue(key, out var previous))
        {
            bucket[key] = value;
            return previous;
        }

        bucket[key] = value;
        _count++;
        return null;
    }

    public Hash32 BucketHash(int bucket)
    {
        if (_dirty[bucket])
        {
            // The chunk bytes are kept with their hash: a checkpoint right after the root needs both.
            _chunks[bucket] = EncodeChunk(bucket);
            _bucketHashes[bucket] = MerkleTree.LeafHash(_chunks[bucket]);
            _dirty[bucket] = false;
        }

        return _bucketHashes[bucket];
    }

    public Hash32 ComputeRoot() => MerkleTree.Root(AllBucketHashes());

    private Hash32[] AllBucketHashes()
    {
        var hashes = new Hash32[_buckets.Length];
        for (var i = 0; i < hashes.Length; i++)
        {
            hashes[i] = BucketHash(i);
        }

        return hashes;
    }

    public MerkleProof ProveChunk(int bucket) => MerkleTree.Prove(AllBucketHashes(), bucket);

    /// <summary>The canonical bytes of one bucket: its entries sorted by key. Callers must not modify them.</summary>
    public byte[] ReadChunk(int bucket)
    {
        BucketHash(bucket);
        return _chunks[bucket]!;
    }

    private byte[] EncodeChunk(int bucket)
    {
        // Sized exactly, so the writer hands over its buffer (a guessed size grew and then copied the
        // chunk; every dirty bucket is encoded at every checkpoint), and sorted as key/value pairs so no
        // entry is looked up again. Keys are distinct, so the order is the keys' order alone.
        var entries = _buckets[bucket];
        var count = entries.Count;
        var pairs = System.Buffers.ArrayPool<KeyValuePair<byte[], byte[]>>.Shared.Rent(Math.Max(count, 1));
        try
        {
            ((ICollection<KeyValuePair<byte[], byte[]>>)entries).CopyTo(pairs, 0);
            Array.Sort(pairs, 0, count, KeyOrder.Instance);
            long size = 4;
            for (var i = 0; i < count; i++)
            {
                size += 8L + pairs[i].Key.Length + pairs[i].Value.Length;
            }

            var w = new CanonicalWriter(checked((int)size));
            w.U32((uint)count);
            for (var i = 0; i < count; i++)
            {
                w.Bytes(pairs[i].Key);
                w.Bytes(pairs[i].Value);
            }

            return w.Detach();
        }
        finally
        {
            System.Buffers.ArrayPool<KeyValuePair<byte[], byte[]>>.Shared.Return(pairs, clearArray: true);
        }
    }

    private sealed class KeyOrder : IComparer<KeyValuePair<byte[], byte[]>>
    {
        public static readonly KeyOrder Instance = new();

        public int Compare(KeyValuePair<byte[], byte[]> x, KeyValuePair<byte[], byte[]> y) =>
            ByteArrayComparer.Instance.Compare(x.Key, y.Key);
    }

    /// <summary>Replaces one bucket with a chunk read elsewhere; the chunk must be canonical and belong here.</summary>
    public void WriteChunk(int bucket, ReadOnlySpan<byte> chunk)
    {
        var r = new CanonicalReader(chunk);
        var count = r.Count(int.MaxValue / 16);
        var replacement = new Dictionary<byte[], byte[]>(count, ByteArrayComparer.Instance);
        byte[]? previous = null;
        for (var i = 0; i < count; i++)
        {
            var key = r.Bytes(MaxKeyBytes);
            var value = r.Bytes(MaxValueBytes);
            if (BucketOf(key) != bucket || (previous is not null && ByteArrayComparer.Instance.Compare(previous, key) >= 0))
            {
                throw new MalformedMessageException("chunk entries out of order or in the wrong bucket");
            }

            replacement[key] = value;
            previous = key;
        }

        r.End();
        _count += replacement.Count - _buckets[bucket].Count;
        _buckets[bucket] = replacement;
        _dirty[bucket] = true;
        _chunks[bucket] = null;
    }
}
