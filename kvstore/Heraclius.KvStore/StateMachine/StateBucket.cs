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
/// A record in the slab is u32 key length ‖ key ‖ u32 value length ‖ value: exactly a snapshot chunk's entry,
/// so a chunk is the bucket's records copied in key order. A write of a value of the same length overwrites
/// it in place; any other write appends a new record and leaves the old one as garbage, which a compaction
/// drops once it is half the slab.
/// </remarks>
internal sealed class StateBucket
{
    private const int MinSlots = 8;
    private const int MinSlab = 256;

    // 0 = empty; otherwise tag << 32 | (slab offset + 1), where tag is the high half of the key's stable hash.
    private long[] _slots = new long[MinSlots];
    private byte[] _slab = [];
    private int _used;
    private int _garbage;

    public int Count { get; private set; }

    /// <summary>The bytes a chunk of this bucket takes: its u32 count and its records.</summary>
    public long EncodedSize => 4L + _used - _garbage;

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
                RemoveSlot(slot);
                Count--;
            }
            else if (old.Length == value.Length)
            {
                value.CopyTo(_slab.AsSpan(offset + 8 + key.Length));
            }
            else
            {
                // Appending may compact (moving the old record too): the old record is counted as garbage only once replaced.
                var oldSize = RecordSize(offset);
                _slots[slot] = Slot(tag, Append(key, value));
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
    public int Encode(Span<byte> target)
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
        var offsets = System.Buffers.ArrayPool<int>.Shared.Rent(count);
        try
        {
            var n = 0;
            foreach (var s in _slots)
            {
                if (s != 0)
                {
                    var offset = OffsetOf(s);
                    keys[n] = (PrefixOf(KeyAt(offset)) & ~indexMask) | (uint)n;
                    collected[n++] = offset;
                }
            }

            keys.AsSpan(0, n).Sort();
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
                    SortByKey(offsets.AsSpan(start, end - start));
                }

                start = end;
            }

            BinaryPrimitives.WriteUInt32LittleEndian(target, (uint)n);
            var at = 4;
            for (var i = 0; i < n; i++)
            {
                var offset = offsets[i];
                var size = RecordSize(offset);
                _slab.AsSpan(offset, size).CopyTo(target[at..]);
                at += size;
            }

            return at;
        }
        finally
        {
            System.Buffers.ArrayPool<ulong>.Shared.Return(keys);
            System.Buffers.ArrayPool<int>.Shared.Return(collected);
            System.Buffers.ArrayPool<int>.Shared.Return(offsets);
        }
    }

    /// <summary>
    /// A bucket holding a chunk's records (<paramref name="records"/>: the chunk after its count, already checked
    /// to hold well-formed entries, in key order, of this bucket), <paramref name="tags"/> holding each key's tag.
    /// </summary>
    public static StateBucket FromRecords(ReadOnlySpan<byte> records, ReadOnlySpan<uint> tags)
    {
        var count = tags.Length;
        var bucket = new StateBucket();
        var slots = MinSlots;
        while (count * 4L > slots * 3L)
        {
            slots *= 2;
        }

        bucket._slots = new long[slots];
        bucket._slab = records.ToArray();
        bucket._used = records.Length;
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
        _used = at;
        _garbage = 0;
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
    /// </remarks>
    private static ulong PrefixOf(ReadOnlySpan<byte> key)
    {
        if (key.Length >= 8)
        {
            return BinaryPrimitives.ReadUInt64BigEndian(key);
        }

        Span<byte> padded = stackalloc byte[8];
        padded.Clear();
        key.CopyTo(padded);
        return BinaryPrimitives.ReadUInt64BigEndian(padded);
    }

    /// <summary>
    /// Sorts records (by offset) whose keys share their first 8 bytes. Such runs are short (the engine's keys
    /// of one client share a prefix, a handful per bucket), so an insertion sort: a span sort with a comparer
    /// boxed one per run, a million a second while capturing under <c>bench kv</c>.
    /// </summary>
    private void SortByKey(Span<int> offsets)
    {
        if (offsets.Length > 32)
        {
            offsets.Sort(new KeyOrder(_slab));
            return;
        }

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
    }

    /// <summary>Records (by slab offset) in their keys' order.</summary>
    private sealed class KeyOrder(byte[] slab) : IComparer<int>
    {
        public int Compare(int x, int y) => KeyOf(x).SequenceCompareTo(KeyOf(y));

        private ReadOnlySpan<byte> KeyOf(int offset) =>
            slab.AsSpan(offset + 4, (int)BinaryPrimitives.ReadUInt32LittleEndian(slab.AsSpan(offset)));
    }
}
