namespace Heraclius.KvStore.StateMachine;

public enum RequestOutcomeKind : byte
{
    Answered = 0,
    Deferred = 1,
    Overloaded = 2,
}
