namespace Heraclius.KvStore.Transport;

/// <summary>Reports this node's consensus status for operators, the portal and the <c>status</c> command.</summary>
public interface INodeStatusSource
{
    NodeStatus GetStatus();
}
