namespace Heraclius.KvStore.Tests.Linearizability;

public enum LinearizabilityVerdict
{
    Linearizable,
    NotLinearizable,

    /// <summary>The budget ran out first; a test must treat this as a failure.</summary>
    Unknown,
}
