using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.Topology;

/// <summary>A registered client (an API process, a benchmark, a tool) and the key it signs batches with.</summary>
public sealed record ClientInfo(string Id, VerifyingKey PublicKey);
