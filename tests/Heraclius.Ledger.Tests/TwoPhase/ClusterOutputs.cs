using Heraclius.KvStore.Crypto;
using Heraclius.KvStore.StateMachine;

namespace Heraclius.Ledger.Tests.TwoPhase;

/// <summary>What one decision of one cluster emits, handed to the harness as it happens.</summary>
internal sealed class ClusterOutputs : IServiceOutputs
{
    private readonly LedgerHarness _harness;
    private readonly string _cluster;
    private readonly HashSet<string> _sentThisDecision = new(StringComparer.Ordinal);

    public ClusterOutputs(LedgerHarness harness, string cluster)
    {
        _harness = harness;
        _cluster = cluster;
    }

    /// <summary>Like the engine: a destination already in this decision's groups may always take more.</summary>
    public bool CanSend(string cluster) => _sentThisDecision.Contains(cluster) || !_harness.Blocked.Contains(cluster);

    public void Send(string cluster, ReadOnlySpan<byte> message)
    {
        _sentThisDecision.Add(cluster);
        _harness.Enqueue(_cluster, cluster, message.ToArray());
    }

    public void Answer(string clientId, ulong seq, Hash32 requestHash, ReadOnlySpan<byte> result) => _harness.RecordAnswer(clientId, seq, requestHash, result.ToArray());

    public void Refuse(string clientId, ulong seq, Hash32 requestHash) =>
        throw new InvalidOperationException("the ledger never refuses a deferred request");

    public bool HasRoom => true;

    public void Audit(ReadOnlySpan<byte> record) => _harness.Audits.Add((_cluster, record.ToArray()));
}
