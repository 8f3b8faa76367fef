using System.Diagnostics.Tracing;

namespace Heraclius.Node.Commands;

/// <summary>Where the runtime's GC events come from, for the bench's in-process listeners.</summary>
internal static class RuntimeGcEvents
{
    /// <summary>The NativeRuntimeEventSource's name.</summary>
    public const string SourceName = "Microsoft-Windows-DotNETRuntime";

    /// <summary>The runtime's GC keyword.</summary>
    public const EventKeywords Keyword = (EventKeywords)0x1;
}
