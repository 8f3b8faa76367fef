namespace Heraclius.KvStore.StateMachine;

/// <summary>
/// The bytes holding one bucket's encoding in the captures that share it, and how many of them the replica still
/// holds: once none does, the state's pool (see ChunkBufferPool) hands it to a later capture to encode into.
/// </summary>
/// <remarks>
/// <see cref="Holders"/> is counted on the replica's thread only (capturing and retiring happen there). The buffer is
/// sized when the capture is taken, from what its twin holds, so an encoder never replaces it.
/// </remarks>
internal sealed class ChunkBuffer(Memory<byte> memory)
{
    /// <summary>The buffer's bytes: a slice of one of the pool's arenas (see <see cref="ChunkBufferPool"/>).</summary>
    public Memory<byte> Memory { get; } = memory;

    public int Holders { get; set; } = 1;
}
