namespace Heraclius.KvStore.Decisions;

/// <summary>One member's signature inside a certificate, by its index in the cluster.</summary>
public readonly record struct QcSignature(int Signer, byte[] Signature);
