namespace Heraclius.KvStore.Transport;

/// <summary>Size limits of the wire, shared by both ends so that a sender never builds a frame its receiver refuses.</summary>
public static class TransportLimits
{
    /// <summary>The largest gRPC message a node accepts (16 MiB); bigger ones end the call with RESOURCE_EXHAUSTED.</summary>
    public const int MaxFrameBytes = 16 * 1024 * 1024;

    /// <summary>Room kept in a frame for the envelope around the payloads.</summary>
    public const int FrameOverheadBytes = 64 * 1024;

    /// <summary>The largest single consensus message a peer link sends; a bigger one is dropped and counted.</summary>
    public const int MaxPeerMessageBytes = MaxFrameBytes - FrameOverheadBytes;

    /// <summary>The longest node id or destination, in UTF-8 bytes, a node reads off the wire.</summary>
    public const int MaxIdBytes = 256;
}
