namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// The array holding one bucket's encoding in the captures that share it, and how many of them the replica still
/// holds: once none does, the state hands the array to the bucket's next capture to encode into.
/// </summary>
/// <remarks>
/// <see cref="Holders"/> is counted on the replica's thread only (capturing and retiring happen there). An encoder
/// on another thread may replace <see cref="Array"/> with a larger one, but only while its capture is the buffer's
/// one holder and before the capture completes; the replica reads it only after that.
/// </remarks>
internal sealed class ChunkBuffer(byte[] array)
{
    public byte[] Array { get; set; } = array;

    public int Holders { get; set; } = 1;
}
