namespace Heraclius.KvStore.Consensus.Messages;

/// <summary>Member <see cref="Member"/>'s signature of <see cref="SuspicionStatement"/> for a view (the view is the proof's).</summary>
public readonly record struct SignedSuspicion(int Member, byte[] Signature);
