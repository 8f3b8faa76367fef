using System.Buffers.Binary;

namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// One bucket of the replicated state: its entries packed in one byte array (the slab), found through an
/// open-addressing table of slab offsets.
/// </summary>
/// <remarks>
/// Why not a dictionary of key and value arrays: the state is most of a node's live heap and every write put a
/// young array into an old dictionary. Each young collection then scanned the dirtied cards of every state
/// dictionary and promoted every written value, and each background collection marked millions of small
/// arrays; in the bench those collections paused the process for 100-500 ms. A slab and a table of integers
/// hold no references, so the collector never looks inside them.
/// Slabs are not put on the pinned object heap: tried, the longest GC pauses of `bench kv` at 1,024 users fell from
/// 81-93 to 53-61 ms, but its allocations counted against the full collections' budget (17-19 background collections
/// in 20 s instead of 5) and its p99 rose from 104-119 to 132-147 ms (3 alternated pairs).
/// A record in the slab is u32 key length ‖ key ‖ u32 value length ‖ value: exactly a snapshot chunk's entry,
/// so a chunk is the bucket's records copied in key order. A write of a value of the same length overwrites
/// it in place; any other write appends a new record and leaves the old one as garbage, which a compaction
/// drops once it is half the slab.
/// </remarks>
internal sealed class StateBucket
{
    private const int MinSlots = 8;
    private const uint DeadBit = 0x8000_0000;
    private const int MinSlab = 256;

    // 0 = empty; otherwise tag << 32 | (slab offset + 1), where tag is the high half of the key's stable hash.
    private long[] _slots = new long[MinSlots];
    private byte[] _slab = [];
    private int _used;
    private int _garbage;
    // Set while a capture's twin shares this slab (see Freeze): until the twin is encoded and releases it, a write that
    // would change a byte below the length it froze first gives the twin a copy of them (or, while an encoder reads
    // the shared slab, takes a copy itself).
    private FreezeToken? _freeze;
    // The twin's side of the same token (null on a live bucket).
    private FreezeToken? _twinOf;

    public int Count { get; private set; }

    /// <summary>How often a write copied the slab for itself because a capture's encoder was reading it (tests).</summary>
    internal int SlabCopies { get; private set; }

    /// <summary>How often a write gave a capture's unencoded twin a copy of the bytes it reads (tests).</summary>
    internal int TwinCopies { get; private set; }

    /// <summary>The bytes a chunk of this bucket takes: its u32 count and its records.</summary>
    public long EncodedSize => 4L + _used - _garbage;

    /// <summary>The bytes of the one chunk <paramref name="main"/> and its <paramref name="band"/> encode to (both sizes count a u32 count; the chunk has one).</summary>
    public static int ChunkSize(StateBucket main, StateBucket band) => checked((int)(main.EncodedSize + band.EncodedSize - 4));

    public static uint TagOf(ulong hash) => (uint)(hash >> 32);

    /// <summary>The value under a key, as a view into the slab valid until the next write; false when absent.</summary>
    public bool TryGet(ReadOnlySpan<byte> key, uint tag, out ReadOnlySpan<byte> value)
    {
        var slot = Find(key, tag);
        if (slot < 0)
        {
            value = default;
            return false;
        }

        value = ValueAt(OffsetOf(_slots[slot]));
        return true;
    }

    /// <summary>
    /// Sets (or, with <paramref name="delete"/>, removes) a key; before changing anything, hands what it replaces
    /// to <paramref name="undo"/> (when given), so that the write can be reverted.
    /// </summary>
    public void Set(ReadOnlySpan<byte> key, uint tag, ReadOnlySpan<byte> value, bool delete, UndoLog? undo)
    {
        var slot = Find(key, tag);
        if (slot >= 0)
        {
            var offset = OffsetOf(_slots[slot]);
            var old = ValueAt(offset);
            undo?.Record(key, old);
            if (delete)
            {
                _garbage += RecordSize(offset);
                MarkDead(offset);
                RemoveSlot(slot);
                Count--;
            }
            else if (old.Length == value.Length)
            {
                // Unshared first (the capture's twin, if any, keeps the bytes it froze); a value that is a view into this
                // slab is another record's bytes or the same, and CopyTo moves overlapping bytes correctly.
                Unshare();
                value.CopyTo(_slab.AsSpan(offset + 8 + key.Length));
            }
            else
            {
                // Appending may compact (moving the old record too): the old record is counted as garbage only once replaced.
                var oldSize = RecordSize(offset);
                var appended = Append(key, value);
                // The append may have compacted, moving the old record: its slot still says where.
                MarkDead(OffsetOf(_slots[slot]));
                _slots[slot] = Slot(tag, appended);
                _garbage += oldSize;
            }
        }
        else
        {
            undo?.RecordAbsent(key);
            if (delete)
            {
                return;
            }

            if ((Count + 1) * 4L > _slots.Length * 3L)
            {
                Grow();
                slot = Find(key, tag);
            }

            _slots[~slot] = Slot(tag, Append(key, value));
            Count++;
        }

        if (_garbage > 4096 && _garbage * 2L > _used)
        {
            Compact();
        }
    }

    /// <summary>Every key, copied (diagnostics and tests).</summary>
    public IEnumerable<byte[]> Keys()
    {
        foreach (var s in _slots)
        {
            if (s != 0)
            {
                yield return KeyAt(OffsetOf(s)).ToArray();
            }
        }
    }

    /// <summary>Writes the bucket's chunk (u32 count ‖ records in key order) into <paramref name="target"/>; returns its length.</summary>
    public int Encode(Span<byte> target) => Encode(target, band: null);

    /// <summary>
    /// Writes one chunk of this bucket's records and <paramref name="band"/>'s (u32 count ‖ all records in key order);
    /// returns its length. Every key of the band starts with the byte 0x00 and none of this bucket's does, so the
    /// band's records come, in their own order, after this bucket's empty key (if it holds one) and before the rest.
    /// </summary>
    public int Encode(Span<byte> target, StateBucket? band)
    {
        BeginRead();
        band?.BeginRead();
        var offsets = System.Buffers.ArrayPool<int>.Shared.Rent(Math.Max(Count, 1));
        try
        {
            var n = SortedOffsets(offsets);
            BinaryPrimitives.WriteUInt32LittleEndian(target, (uint)(n + (band?.Count ?? 0)));
            var at = 4;
            var i = 0;
            if (band is not null)
            {
                if (n > 0 && KeyAt(offsets[0]).IsEmpty)
                {
                    at += WriteRecords(offsets.AsSpan(0, 1), target[at..]);
                    i = 1;
                }

                at += band.EncodeRecords(target[at..]);
            }

            return at + WriteRecords(offsets.AsSpan(i, n - i), target[at..]);
        }
        finally
        {
            System.Buffers.ArrayPool<int>.Shared.Return(offsets);
        }
    }

    /// <summary>The bucket's records in key order, without a count; returns their length.</summary>
    private int EncodeRecords(Span<byte> target)
    {
        var offsets = System.Buffers.ArrayPool<int>.Shared.Rent(Math.Max(Count, 1));
        try
        {
            return WriteRecords(offsets.AsSpan(0, SortedOffsets(offsets)), target);
        }
        finally
        {
            System.Buffers.ArrayPool<int>.Shared.Return(offsets);
        }
    }

    private int WriteRecords(ReadOnlySpan<int> offsets, Span<byte> target)
    {
        var at = 0;
        foreach (var offset in offsets)
        {
            var size = RecordSize(offset);
            _slab.AsSpan(offset, size).CopyTo(target[at..]);
            at += size;
        }

        return at;
    }

    /// <summary>Fills <paramref name="offsets"/> with the slab offsets of the live records in their keys' order; returns their count.</summary>
    private int SortedOffsets(int[] offsets)
    {
        // Sorted by each key's first 8 bytes as an integer whose lowest bits are replaced by the record's
        // index: a sort of plain integers, with no comparer and no second array moved along (the sort with one
        // was a third of the encoding's time). Keys are distinct, so only runs whose prefixes agree above those
        // bits have their keys compared whole, and the order is the keys' order alone.
        var count = Math.Max(Count, 1);
        var indexBits = count == 1 ? 1 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)(count - 1));
        var indexMask = (1UL << indexBits) - 1;
        var keys = System.Buffers.ArrayPool<ulong>.Shared.Rent(count);
        var collected = System.Buffers.ArrayPool<int>.Shared.Rent(count);
        try
        {
            // The live records, walking the slab from its start (not the table's order, which jumps about the slab
            // and, with the state larger than the caches, took a miss per record: half the encoding's time).
            var n = 0;
            var slab = _slab;
            for (var offset = 0; offset < _used;)
            {
                var record = slab.AsSpan(offset);
                var keyField = BinaryPrimitives.ReadUInt32LittleEndian(record);
                var keyLength = (int)(keyField & ~DeadBit);
                var size = 8 + keyLength + (int)BinaryPrimitives.ReadUInt32LittleEndian(record[(4 + keyLength)..]);
                if ((keyField & DeadBit) == 0)
                {
                    if (n == Count)
                    {
                        throw new InvalidOperationException("state bucket holds more live records than entries");
                    }

                    var prefix = PrefixOf(record.Slice(4, keyLength));
                    keys[n] = (prefix & ~indexMask) | (uint)n;
                    collected[n++] = offset;
                }

                offset += size;
            }

            if (n != Count)
            {
                throw new InvalidOperationException("state bucket holds fewer live records than entries");
            }

            SortDistinct(keys.AsSpan(0, n));
            for (var i = 0; i < n; i++)
            {
                offsets[i] = collected[(int)(keys[i] & indexMask)];
            }

            for (var start = 0; start < n;)
            {
                var end = start + 1;
                var prefix = keys[start] & ~indexMask;
                while (end < n && (keys[end] & ~indexMask) == prefix)
                {
                    end++;
                }

                if (end - start > 1)
                {
                    SortByKey(offsets.AsSpan(start, end - start), 0);
                }

                start = end;
            }

            return n;
        }
        finally
        {
            System.Buffers.ArrayPool<ulong>.Shared.Return(keys);
            System.Buffers.ArrayPool<int>.Shared.Return(collected);
        }
    }

    /// <summary>
    /// Sorts distinct integers: spread over 256 bins by the 8 bits below the highest bit in which they differ (above
    /// it they all agree, so the bins are in order), then each bin on its own. Keys' prefixes are spread evenly below
    /// their common part (a type byte, zero bytes of small numbers), so a bin holds one or two: a few hundred
    /// prefixes sorted in ~2 µs instead of the ~11 µs an introsort took, a quarter of a checkpoint's encoding.
    /// </summary>
    private static void SortDistinct(Span<ulong> values)
    {
        if (values.Length < 64)
        {
            values.Sort();
            return;
        }

        ulong min = ulong.MaxValue, max = 0;
        foreach (var v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        var highest = 63 - System.Numerics.BitOperations.LeadingZeroCount(min ^ max);
        var shift = Math.Max(0, highest - 7);
        Span<int> starts = stackalloc int[257];
        starts.Clear();
        foreach (var v in values)
        {
            starts[(int)((v >> shift) & 0xFF) + 1]++;
        }

        for (var b = 1; b <= 256; b++)
        {
            starts[b] += starts[b - 1];
        }

        var scratch = System.Buffers.ArrayPool<ulong>.Shared.Rent(values.Length);
        try
        {
            Span<int> next = stackalloc int[256];
            starts[..256].CopyTo(next);
            foreach (var v in values)
            {
                scratch[next[(int)((v >> shift) & 0xFF)]++] = v;
            }

            for (var b = 0; b < 256; b++)
            {
                var bin = scratch.AsSpan(starts[b], starts[b + 1] - starts[b]);
                if (bin.Length > 1)
                {
                    bin.Sort();
                }
            }

            scratch.AsSpan(0, values.Length).CopyTo(values);
        }
        finally
        {
            System.Buffers.ArrayPool<ulong>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// A bucket holding records of a chunk (<paramref name="records"/> then <paramref name="more"/>: runs of the chunk
    /// after its count, already checked to hold well-formed entries, in key order, of this bucket),
    /// <paramref name="tags"/> holding each key's tag.
    /// </summary>
    public static StateBucket FromRecords(ReadOnlySpan<byte> records, ReadOnlySpan<byte> more, ReadOnlySpan<uint> tags)
    {
        var count = tags.Length;
        var bucket = new StateBucket();
        var slots = MinSlots;
        while (count * 4L > slots * 3L)
        {
            slots *= 2;
        }

        bucket._slots = new long[slots];
        bucket._slab = GC.AllocateUninitializedArray<byte>(records.Length + more.Length);
        records.CopyTo(bucket._slab);
        more.CopyTo(bucket._slab.AsSpan(records.Length));
        bucket._used = bucket._slab.Length;
        var offset = 0;
        for (var i = 0; i < count; i++)
        {
            var key = bucket.KeyAt(offset);
            var tag = tags[i];
            bucket._slots[~bucket.Find(key, tag)] = Slot(tag, offset);
            offset += bucket.RecordSize(offset);
        }

        bucket.Count = count;
        return bucket;
    }

    private int Find(ReadOnlySpan<byte> key, uint tag)
    {
        var mask = _slots.Length - 1;
        var i = (int)(tag & (uint)mask);
        while (true)
        {
            var s = _slots[i];
            if (s == 0)
            {
                return ~i;
            }

            if ((uint)((ulong)s >> 32) == tag && KeyAt(OffsetOf(s)).SequenceEqual(key))
            {
                return i;
            }

            i = (i + 1) & mask;
        }
    }

    // Linear probing without tombstones: the entries after the hole that could live in it move back.
    private void RemoveSlot(int hole)
    {
        var mask = _slots.Length - 1;
        var j = hole;
        while (true)
        {
            j = (j + 1) & mask;
            var s = _slots[j];
            if (s == 0)
            {
                break;
            }

            var home = (int)((uint)((ulong)s >> 32) & (uint)mask);
            // The entry at j stays when its home lies cyclically in (hole, j].
            var stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
            if (!stays)
            {
                _slots[hole] = s;
                hole = j;
            }
        }

        _slots[hole] = 0;
    }

    private void Grow()
    {
        var old = _slots;
        _slots = new long[old.Length * 2];
        var mask = _slots.Length - 1;
        foreach (var s in old)
        {
            if (s == 0)
            {
                continue;
            }

            var i = (int)((uint)((ulong)s >> 32) & (uint)mask);
            while (_slots[i] != 0)
            {
                i = (i + 1) & mask;
            }

            _slots[i] = s;
        }
    }

    /// <summary>
    /// A read-only twin of this bucket as it is now, for a capture to encode later (on any thread): it shares the slab,
    /// and before any write that would change a byte the twin reads (an overwrite in place, a record marked dead, a
    /// compaction in place) this bucket gives the twin its own copy of them, or, while an encoder already reads the
    /// shared slab, copies the slab for itself. Appends go past the twin's length and leave its bytes alone.
    /// </summary>
    /// <remarks>
    /// The twin only encodes: its table is empty, so it finds no key. Why not copy at once: a capture of a state of
    /// tens of megabytes would copy all of it; most buckets are written soon after, but each is copied only then, one
    /// bucket at a time, and one never written again is never copied.
    /// </remarks>
    public StateBucket Freeze()
    {
        // A twin of an earlier capture still unencoded (never so in the replica, which awaits a capture's root before
        // the next capture; kept exact anyway): it gets its own bytes first, as before any write.
        Unshare();
        var token = new FreezeToken();
        var twin = new StateBucket { _slab = _slab, _used = _used, _garbage = _garbage, Count = Count, _slots = [], _twinOf = token };
        token.Twin = twin;
        _freeze = token;
        return twin;
    }

    /// <summary>
    /// On a twin, before anything reads its slab: claims the shared slab for reading (from then on the live bucket copies
    /// before it writes), or, once the live bucket gave the twin its own copy, reads that. No-op on a live bucket.
    /// </summary>
    private void BeginRead()
    {
        if (_twinOf is not { } token)
        {
            return;
        }

        var spin = default(SpinWait);
        while (true)
        {
            // Full fence: a Detached seen here follows the live thread's write of the copy into _slab.
            var state = Interlocked.CompareExchange(ref token.State, FreezeToken.Reading, FreezeToken.Shared);
            switch (state)
            {
                case FreezeToken.Shared or FreezeToken.Reading or FreezeToken.Detached:
                    return;
                case FreezeToken.Detaching:
                    // The live bucket's thread is copying the bytes for this twin (a few microseconds).
                    spin.SpinOnce();
                    break;
                default:
                    throw new InvalidOperationException("a capture's twin was read after it was released");
            }
        }
    }

    /// <summary>
    /// Called on a twin once its capture encoded it (never before): the live bucket it came from may write its slab in
    /// place again.
    /// Before this, each bucket written after a capture copied its whole slab on its first write even when the capture
    /// had long been encoded (review of the deferred root: most of the copying after a checkpoint height).
    /// </summary>
    public void ReleaseTwin()
    {
        if (_twinOf is { } token)
        {
            // Release: every read of the slab by the encoder happens before a live write that sees the token released.
            // The token stays: a released twin read again is refused (BeginRead), not encoded from an empty slab.
            // Only after an encoding: released while Shared, a write's Unshare could still hand it a copy.
            System.Diagnostics.Debug.Assert(Volatile.Read(ref token.State) is FreezeToken.Reading or FreezeToken.Detached or FreezeToken.Released, "a twin is released only once encoded");
            Volatile.Write(ref token.State, FreezeToken.Released);
            _slab = [];
        }
    }

    /// <remarks>
    /// Which side takes the copy matters to the collector, not to the bytes: the copy is young, and the side that keeps it
    /// decides whether it dies young. A twin is dropped once encoded; the live bucket's slab lives until the bucket next
    /// grows, so a copy kept there was promoted through gen1 into gen2 with the rest of the state (in `bench transfers`
    /// 22-35 MB/s of such copies, the capture's encoders running at low priority behind the replicas). The twin takes it
    /// unless an encoder already reads the shared slab, which a copy could not redirect.
    /// </remarks>
    private void Unshare()
    {
        if (_freeze is { } token)
        {
            // Full fence: a Released seen here follows every read the twin's encoder made of the slab; a Shared swapped
            // for Detaching keeps every encoder from reading the slab until the twin holds its copy.
            var state = Interlocked.CompareExchange(ref token.State, FreezeToken.Detaching, FreezeToken.Shared);
            if (state == FreezeToken.Shared)
            {
                var twin = token.Twin!;
                try
                {
                    var copy = twin._used == 0 ? [] : NewSlab(twin._used);
                    _slab.AsSpan(0, twin._used).CopyTo(copy);
                    twin._slab = copy;
                }
                catch
                {
                    // Left Detaching, every encoder would wait for ever and the root with them; shared again, the
                    // failure surfaces here and the twin still reads the untouched slab.
                    Volatile.Write(ref token.State, FreezeToken.Shared);
                    throw;
                }

                Volatile.Write(ref token.State, FreezeToken.Detached);
                token.Twin = null;
                TwinCopies++;
            }
            else if (state == FreezeToken.Reading)
            {
                var copy = NewSlab(_slab.Length);
                _slab.AsSpan(0, _used).CopyTo(copy);
                _slab = copy;
                SlabCopies++;
            }

            _freeze = null;
        }
    }

    /// <summary>Shared by a live bucket and its capture's twin: who may read and write the bytes they share.</summary>
    private sealed class FreezeToken
    {
        /// <summary>The twin reads the live slab; nobody has read it yet.</summary>
        public const int Shared = 0;

        /// <summary>The twin is encoded and reads nothing any more.</summary>
        public const int Released = 1;

        /// <summary>An encoder reads the shared slab: the live bucket must copy before it writes.</summary>
        public const int Reading = 2;

        /// <summary>The live bucket's thread is copying the bytes for the twin: encoders wait.</summary>
        public const int Detaching = 3;

        /// <summary>The twin reads its own copy: the live bucket writes its slab freely.</summary>
        public const int Detached = 4;

        public int State;

        public StateBucket? Twin;
    }

    /// <summary>A slab of at least <paramref name="size"/> bytes, uninitialized (nothing past the used bytes is ever read).</summary>
    internal static byte[] NewSlab(int size) => GC.AllocateUninitializedArray<byte>(size);

    private int Append(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var size = 8 + key.Length + value.Length;
        if (_slab.Length - _used < size)
        {
            var live = (long)_used - _garbage + size;
            if (_garbage >= size && live * 4 <= _slab.Length * 3L && !_slab.AsSpan().Overlaps(key) && !_slab.AsSpan().Overlaps(value))
            {
                // The garbage makes room, with a quarter of the slab free after: a bucket whose records are
                // written and deleted (a 2PC's transaction records) keeps its slab instead of allocating a new
                // one each time it fills. Not when the record's bytes are a view into the slab: moving the
                // records would move them.
                CompactInPlace();
            }
            else
            {
                // Half again what is live: a bucket that keeps growing is not copied at every write. Uninitialized:
                // nothing past the used bytes is ever read.
                var capacity = (int)Math.Min(Array.MaxLength, Math.Max(MinSlab, live + (live / 2)));
                if (_garbage > 0)
                {
                    CompactInto(GC.AllocateUninitializedArray<byte>(Math.Max(capacity, _used - _garbage + size)));
                }
                else
                {
                    var grown = GC.AllocateUninitializedArray<byte>(Math.Max(capacity, _used + size));
                    _slab.AsSpan(0, _used).CopyTo(grown);
                    _slab = grown;
                    _freeze = null;
                }
            }
        }

        var offset = _used;
        var span = _slab.AsSpan(offset);
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)key.Length);
        key.CopyTo(span[4..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(4 + key.Length)..], (uint)value.Length);
        value.CopyTo(span[(8 + key.Length)..]);
        _used += size;
        return offset;
    }

    /// <summary>
    /// Drops the garbage (called once a write is done, so no argument of it is a view into the slab): in place,
    /// unless what is live would take under a quarter of the slab, which then shrinks.
    /// </summary>
    private void Compact()
    {
        var live = _used - _garbage;
        if (live * 4L < _slab.Length && _slab.Length > MinSlab * 4)
        {
            CompactInto(GC.AllocateUninitializedArray<byte>(Math.Max(MinSlab, live + (live / 2))));
        }
        else
        {
            CompactInPlace();
        }
    }

    /// <summary>
    /// Moves the live records down over the garbage, in slab order: a record only ever moves to a lower offset, past
    /// records already moved, so none is overwritten before it is moved. Views into the slab (valid until the next
    /// write) see other bytes after this; its callers are writes.
    /// </summary>
    private void CompactInPlace()
    {
        Unshare();
        var order = System.Buffers.ArrayPool<long>.Shared.Rent(Math.Max(Count, 1));
        try
        {
            var n = 0;
            for (var i = 0; i < _slots.Length; i++)
            {
                var s = _slots[i];
                if (s != 0)
                {
                    order[n++] = ((long)OffsetOf(s) << 32) | (uint)i;
                }
            }

            order.AsSpan(0, n).Sort();
            var at = 0;
            for (var j = 0; j < n; j++)
            {
                var offset = (int)(order[j] >> 32);
                var slot = (int)(uint)order[j];
                var size = RecordSize(offset);
                if (offset != at)
                {
                    _slab.AsSpan(offset, size).CopyTo(_slab.AsSpan(at));
                }

                _slots[slot] = Slot((uint)((ulong)_slots[slot] >> 32), at);
                at += size;
            }

            _used = at;
            _garbage = 0;
        }
        finally
        {
            System.Buffers.ArrayPool<long>.Shared.Return(order);
        }
    }

    // Copies the live records into a fresh slab (a slab that grows or shrinks; the arguments of the write may be views into the old one).
    private void CompactInto(byte[] target)
    {
        var at = 0;
        for (var i = 0; i < _slots.Length; i++)
        {
            var s = _slots[i];
            if (s == 0)
            {
                continue;
            }

            var offset = OffsetOf(s);
            var size = RecordSize(offset);
            _slab.AsSpan(offset, size).CopyTo(target.AsSpan(at));
            _slots[i] = Slot((uint)((ulong)s >> 32), at);
            at += size;
        }

        _slab = target;
        _freeze = null;
        _used = at;
        _garbage = 0;
    }

    /// <summary>
    /// Marks the record at <paramref name="offset"/> as garbage in the slab itself (the high bit of its key length, which
    /// a key never reaches), so an encoding walks the slab in order and skips it. Only the slab carries the mark: a
    /// chunk's records are copies of live ones, and a compaction drops marked records with the rest of the garbage.
    /// </summary>
    private void MarkDead(int offset)
    {
        Unshare();
        var field = _slab.AsSpan(offset);
        BinaryPrimitives.WriteUInt32LittleEndian(field, BinaryPrimitives.ReadUInt32LittleEndian(field) | DeadBit);
    }

    private static long Slot(uint tag, int offset) => (long)(((ulong)tag << 32) | (uint)(offset + 1));

    private static int OffsetOf(long slot) => (int)(uint)slot - 1;

    private ReadOnlySpan<byte> KeyAt(int offset) =>
        _slab.AsSpan(offset + 4, (int)BinaryPrimitives.ReadUInt32LittleEndian(_slab.AsSpan(offset)));

    private ReadOnlySpan<byte> ValueAt(int offset)
    {
        var valueAt = offset + 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(_slab.AsSpan(offset));
        return _slab.AsSpan(valueAt + 4, (int)BinaryPrimitives.ReadUInt32LittleEndian(_slab.AsSpan(valueAt)));
    }

    private int RecordSize(int offset)
    {
        var keyLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(_slab.AsSpan(offset));
        return 8 + keyLength + (int)BinaryPrimitives.ReadUInt32LittleEndian(_slab.AsSpan(offset + 4 + keyLength));
    }

    /// <summary>A key's first 8 bytes as a big-endian integer, zero-padded.</summary>
    /// <remarks>
    /// Padding with the smallest byte keeps the order: a smaller prefix means a smaller key, and only
    /// equal prefixes need the whole keys compared.
    /// Inlined for keys of 8 bytes or more (an encoding takes one per entry); the padding, with its buffer, only for shorter ones.
    /// </remarks>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static ulong PrefixOf(ReadOnlySpan<byte> key) => key.Length >= 8 ? BinaryPrimitives.ReadUInt64BigEndian(key) : PaddedPrefixOf(key);

    private static ulong PaddedPrefixOf(ReadOnlySpan<byte> key)
    {
        Span<byte> padded = stackalloc byte[8];
        padded.Clear();
        key.CopyTo(padded);
        return BinaryPrimitives.ReadUInt64BigEndian(padded);
    }

    /// <summary>
    /// Sorts records (by offset) whose keys agree in their first <paramref name="depth"/> bytes. Short runs (a
    /// handful of keys per bucket, as random keys give) by insertion. Long runs, as keys with a common prefix give
    /// (a ledger's account ids are a type byte and a 128-bit number, their first 8 bytes the same for millions of
    /// accounts): by the 8 bytes from <paramref name="depth"/> as integers, then each run of equal ones 8 bytes
    /// further; comparing whole keys instead was over half of the encoding of such a bucket. A run with a key that
    /// ends within those 8 bytes is sorted by comparing keys, as zero padding would not order it.
    /// </summary>
    private void SortByKey(Span<int> offsets, int depth)
    {
        if (offsets.Length <= 32)
        {
            for (var i = 1; i < offsets.Length; i++)
            {
                var item = offsets[i];
                var key = KeyAt(item);
                var j = i - 1;
                while (j >= 0 && KeyAt(offsets[j]).SequenceCompareTo(key) > 0)
                {
                    offsets[j + 1] = offsets[j];
                    j--;
                }

                offsets[j + 1] = item;
            }

            return;
        }

        foreach (var offset in offsets)
        {
            if (KeyAt(offset).Length < depth + 8)
            {
                offsets.Sort(new KeyOrder(_slab));
                return;
            }
        }

        var count = offsets.Length;
        var values = System.Buffers.ArrayPool<ulong>.Shared.Rent(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                values[i] = BinaryPrimitives.ReadUInt64BigEndian(KeyAt(offsets[i])[depth..]);
            }

            // All 8 bytes the same (a run sharing its first 8 bytes exactly, the whole bucket in such a state): on to the next 8.
            if (values.AsSpan(1, count - 1).IndexOfAnyExcept(values[0]) < 0)
            {
                SortByKey(offsets, depth + 8);
                return;
            }

            values.AsSpan(0, count).Sort(offsets);
            for (var start = 0; start < count;)
            {
                var end = start + 1;
                while (end < count && values[end] == values[start])
                {
                    end++;
                }

                if (end - start > 1)
                {
                    SortByKey(offsets[start..end], depth + 8);
                }

                start = end;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<ulong>.Shared.Return(values);
        }
    }

    /// <summary>Records (by slab offset) in their keys' order.</summary>
    private sealed class KeyOrder(byte[] slab) : IComparer<int>
    {
        public int Compare(int x, int y) => KeyOf(x).SequenceCompareTo(KeyOf(y));

        private ReadOnlySpan<byte> KeyOf(int offset) =>
            slab.AsSpan(offset + 4, (int)BinaryPrimitives.ReadUInt32LittleEndian(slab.AsSpan(offset)));
    }
}
