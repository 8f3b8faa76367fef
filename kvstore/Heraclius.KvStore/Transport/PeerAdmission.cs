using Heraclius.KvStore.Topology;

namespace Heraclius.KvStore.Transport;

/// <summary>
/// Decides whether an authenticated node may open a peer stream to this node. Checked after the
/// dialer is found in the topology and before its signature is verified.
/// </summary>
/// <param name="dialer">The node that dials, as the topology describes it.</param>
/// <param name="listener">This node.</param>
public delegate bool PeerAdmission(NodeInfo dialer, NodeInfo listener);
