namespace Heraclius.KvStore.Tests.Linearizability;

/// <summary>
/// Wing and Gong's search with Lowe's memoization, as Porcupine implements it, over the
/// operations of one key. Invocations and returns form one doubly linked list in time order.
/// The search walks it from the front: at an invocation it tries to linearize that operation
/// next (legal in the model, configuration of linearized set and state not seen before), and if
/// so removes the operation from the list and starts over from the front; at a return it has
/// found an operation that must already have been linearized, so it undoes the last choice and
/// tries the next one. The list empties exactly when every operation has been linearized.
/// Two refinements over Porcupine cut the search on concurrent histories without changing the
/// answer (a brute-force oracle in the tests holds them to that): a read-only operation that
/// fits is linearized at once with no alternatives tried, and pending operations are tried only
/// after the completed ones.
/// </summary>
internal sealed class PartitionSearch
{
    private const int Head = 0;
    private const int None = -1;

    private readonly KeyPartition _partition;
    private readonly SearchBudget _budget;

    // Node 0 is the list head; nodes 1..2n are the invocations and returns sorted by time.
    private readonly int[] _next;
    private readonly int[] _prev;
    private readonly int[] _opOfNode;

    // For an invocation node, its return node; None for a return node.
    private readonly int[] _matchOfNode;
    private readonly ulong[] _zobrist;

    private PartitionSearch(KeyPartition partition, SearchBudget budget)
    {
        _partition = partition;
        _budget = budget;
        var ops = partition.Operations;
        var n = ops.Count;
        var events = new (long Ticks, int IsReturn, int Op)[2 * n];
        for (var i = 0; i < n; i++)
        {
            events[2 * i] = (ops[i].InvokeTicks, 0, i);
            events[(2 * i) + 1] = (ops[i].ReturnTicks, 1, i);
        }

        // At equal ticks invocations sort before returns: the clock cannot tell which came first,
        // so such operations count as concurrent, the reading that rejects no correct store.
        Array.Sort(events);

        var nodes = (2 * n) + 1;
        _next = new int[nodes];
        _prev = new int[nodes];
        _opOfNode = new int[nodes];
        _matchOfNode = new int[nodes];
        var invokeNode = new int[n];
        _opOfNode[Head] = None;
        _matchOfNode[Head] = None;
        for (var k = 1; k < nodes; k++)
        {
            var (_, isReturn, op) = events[k - 1];
            _opOfNode[k] = op;
            _matchOfNode[k] = None;
            if (isReturn == 0)
            {
                invokeNode[op] = k;
            }
            else
            {
                _matchOfNode[invokeNode[op]] = k;
            }
        }

        for (var k = 0; k < nodes; k++)
        {
            _next[k] = k + 1 < nodes ? k + 1 : None;
            _prev[k] = k - 1;
        }

        _zobrist = new ulong[n];
        var seed = 0x9E3779B97F4A7C15UL;
        for (var i = 0; i < n; i++)
        {
            _zobrist[i] = SplitMix64(ref seed);
        }
    }

    public static PartitionOutcome Run(KeyPartition partition, SearchBudget budget) => new PartitionSearch(partition, budget).Run();

    private PartitionOutcome Run()
    {
        var ops = _partition.Operations;
        var n = ops.Count;
        var readOnly = new bool[n];
        for (var i = 0; i < n; i++)
        {
            readOnly[i] = IsReadOnly(ops[i]);
        }

        var linearized = new ulong[(n + 63) / 64];
        ulong hash = 0;
        var visited = new HashSet<VisitedEntry>();
        var stack = new Frame[n];
        var depth = 0;
        var state = KvKeyState.Absent;

        var bestDepth = 0;
        var bestPrefix = Array.Empty<int>();
        var bestState = state;
        var bestCandidates = Candidates();

        var entry = None;
        var pendingPass = false;
        while (_next[Head] != None)
        {
            int node;
            var forced = false;
            if (entry == None)
            {
                // A new configuration. A read-only operation that fits now goes first, without
                // trying alternatives: if any order of the rest works, one starting with it does
                // (it is minimal, so moving it to the front breaks no real-time edge, and it
                // changes no state). This keeps reads from multiplying the orders of the writes.
                node = None;
                for (var k = _next[Head]; k != None && _matchOfNode[k] != None; k = _next[k])
                {
                    if (!readOnly[_opOfNode[k]])
                    {
                        continue;
                    }

                    if (!_budget.TrySpend())
                    {
                        return new PartitionOutcome(LinearizabilityVerdict.Unknown, bestPrefix, bestState, bestCandidates);
                    }

                    if (KvRegisterModel.Step(state, ops[_opOfNode[k]], out _))
                    {
                        node = k;
                        forced = true;
                        break;
                    }
                }

                if (node == None)
                {
                    node = _next[Head];
                    pendingPass = false;
                }
            }
            else
            {
                node = entry;
            }

            var deadEnd = false;
            if (_matchOfNode[node] == None)
            {
                if (!pendingPass)
                {
                    // Completed operations first, pending ones after: a pending operation fits
                    // almost anywhere, and trying it early mostly builds orders that fail later.
                    pendingPass = true;
                    entry = _next[Head];
                    continue;
                }

                // An operation that had to be linearized by now was not.
                deadEnd = true;
            }
            else
            {
                var op = _opOfNode[node];
                if (!forced && (readOnly[op] || ops[op].IsPending != pendingPass))
                {
                    // Read-only operations that fit were taken above; the others wait for their pass.
                    entry = _next[node];
                    continue;
                }

                if (!forced && !_budget.TrySpend())
                {
                    return new PartitionOutcome(LinearizabilityVerdict.Unknown, bestPrefix, bestState, bestCandidates);
                }

                if (KvRegisterModel.Step(state, ops[op], out var nextState))
                {
                    linearized[op >> 6] |= 1UL << (op & 63);
                    hash ^= _zobrist[op];
                    if (!visited.Contains(new VisitedEntry(linearized, nextState, hash)))
                    {
                        visited.Add(new VisitedEntry((ulong[])linearized.Clone(), nextState, hash));
                        stack[depth++] = new Frame(node, state, forced, pendingPass);
                        state = nextState;
                        Lift(node);
                        entry = None;
                        if (depth > bestDepth)
                        {
                            // If the search fails, every operation that could follow the deepest
                            // prefix is illegal in its state: a legal one would give a deeper prefix,
                            // new or cached. So that prefix and those operations explain the failure.
                            bestDepth = depth;
                            bestPrefix = PrefixOps(stack, depth);
                            bestState = state;
                            bestCandidates = Candidates();
                        }

                        continue;
                    }

                    linearized[op >> 6] &= ~(1UL << (op & 63));
                    hash ^= _zobrist[op];

                    // A forced operation leads only to a dead end explored before, so this
                    // configuration is a dead end too.
                    deadEnd = forced;
                }

                if (!deadEnd)
                {
                    entry = _next[node];
                    continue;
                }
            }

            // Undo the last choice and try the next one. Undoing a forced choice proves its
            // configuration a dead end as well (no alternative there can do better), so the
            // choice before it is undone too.
            Frame undone;
            do
            {
                if (depth == 0)
                {
                    return new PartitionOutcome(LinearizabilityVerdict.NotLinearizable, bestPrefix, bestState, bestCandidates);
                }

                undone = stack[--depth];
                state = undone.State;
                var op = _opOfNode[undone.Node];
                linearized[op >> 6] &= ~(1UL << (op & 63));
                hash ^= _zobrist[op];
                Unlift(undone.Node);
            }
            while (undone.Forced);

            pendingPass = undone.PendingPass;
            entry = _next[undone.Node];
        }

        return new PartitionOutcome(LinearizabilityVerdict.Linearizable, bestPrefix, bestState, []);
    }

    /// <summary>
    /// A completed operation whose recorded output says it changed nothing, wherever it is placed:
    /// a read, a Delete that found nothing, a Cas that did not match. (A pending one may have had
    /// an effect, so it never qualifies.)
    /// </summary>
    private static bool IsReadOnly(in PartitionOperation op) => !op.IsPending && op.Kind switch
    {
        KvOperationKind.Get => true,
        KvOperationKind.Delete => op.OutputStatus == KvOutputStatus.NotFound,
        KvOperationKind.Cas => op.OutputStatus == KvOutputStatus.VersionMismatch,
        _ => false,
    };

    /// <summary>Removes an invocation and its return from the list; their own links stay, for <see cref="Unlift"/>.</summary>
    private void Lift(int invoke)
    {
        var ret = _matchOfNode[invoke];
        _next[_prev[invoke]] = _next[invoke];
        _prev[_next[invoke]] = _prev[invoke];
        _next[_prev[ret]] = _next[ret];
        if (_next[ret] != None)
        {
            _prev[_next[ret]] = _prev[ret];
        }
    }

    /// <summary>Undoes <see cref="Lift"/> of the most recently lifted invocation (dancing links).</summary>
    private void Unlift(int invoke)
    {
        var ret = _matchOfNode[invoke];
        _next[_prev[ret]] = ret;
        if (_next[ret] != None)
        {
            _prev[_next[ret]] = ret;
        }

        _next[_prev[invoke]] = invoke;
        _prev[_next[invoke]] = invoke;
    }

    /// <summary>The operations that may be linearized next: those invoked before the first remaining return.</summary>
    private int[] Candidates()
    {
        var list = new List<int>();
        for (var k = _next[Head]; k != None && _matchOfNode[k] != None; k = _next[k])
        {
            list.Add(_opOfNode[k]);
        }

        return [.. list];
    }

    private int[] PrefixOps(Frame[] stack, int depth)
    {
        var prefix = new int[depth];
        for (var i = 0; i < depth; i++)
        {
            prefix[i] = _opOfNode[stack[i].Node];
        }

        return prefix;
    }

    private static ulong SplitMix64(ref ulong seed)
    {
        var z = seed += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// One linearized operation on the search stack: its invocation node, the state before it,
    /// whether it was forced (no alternatives to try) and in which pass it was chosen.
    /// </summary>
    private readonly record struct Frame(int Node, KvKeyState State, bool Forced, bool PendingPass);
}
