using System.Net.Sockets;

namespace PaymentFunctions.Tests.Infrastructure;

/// <summary>The tests use a real Azurite on 127.0.0.1 (started by `npm test` or .ci/run), never a mock.</summary>
public static class Azurite
{
    public const string ConnectionString = "UseDevelopmentStorage=true";

    private static readonly Lazy<bool> Up = new(() => Reachable(10001) && Reachable(10002));

    public static void EnsureRunning()
    {
        if (!Up.Value)
        {
            throw new InvalidOperationException("Azurite is not running on 127.0.0.1:10001/10002. Run the tests with `npm test`, which starts it.");
        }
    }

    private static bool Reachable(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
