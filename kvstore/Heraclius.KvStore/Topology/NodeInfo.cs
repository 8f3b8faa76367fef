using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Topology;

/// <summary>One member of a cluster: its id, its index within the cluster, its public key and where it listens.</summary>
public sealed record NodeInfo(string Id, string ClusterId, int Index, VerifyingKey PublicKey, string Endpoint);
