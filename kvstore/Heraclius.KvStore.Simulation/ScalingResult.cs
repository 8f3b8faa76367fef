namespace Heraclius.KvStore.Simulation;

/// <summary>Cost per operation of one configuration: properties of the protocol, not of the machine.</summary>
public sealed record ScalingResult(int Coordinators, int Shards, long Operations, double MessagesPerOp, double BytesPerOp, double SignatureVerifiesPerOp, long VirtualMs)
{
    public override string ToString() =>
        $"clusters={Coordinators}+{Shards} msgs_per_op={MessagesPerOp:F2} bytes_per_op={BytesPerOp:F0} sig_verifies_per_op={SignatureVerifiesPerOp:F2}";
}
