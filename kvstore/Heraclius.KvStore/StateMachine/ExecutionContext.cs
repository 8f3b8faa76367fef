using Heraclius.KvStore.Crypto;

namespace Heraclius.KvStore.StateMachine;

/// <summary>What a service may know about the request beyond its bytes: all of it comes from certified inputs.</summary>
public readonly record struct ExecutionContext(string ClientId, ulong Seq, Hash32 RequestHash, ulong Height, ulong Timestamp);
