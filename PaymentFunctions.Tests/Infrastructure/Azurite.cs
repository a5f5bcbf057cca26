using System.Net.Sockets;

namespace PaymentFunctions.Tests.Infrastructure;

/// <summary>The tests use a real Azurite on 127.0.0.1 (started by `npm test` or .ci/run), never a mock.</summary>
public static class Azurite
{
    public const string ConnectionString = "UseDevelopmentStorage=true";

    /// <summary>Azurite's well-known development account key (public, documented; not a secret).</summary>
    private const string DevelopmentKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// <summary>The development account reached through proxies (see <see cref="TcpProxy"/>) on the given ports.</summary>
    public static string ThroughProxies(int queuePort, int tablePort) =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={DevelopmentKey};" +
        $"QueueEndpoint=http://127.0.0.1:{queuePort}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{tablePort}/devstoreaccount1;";

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
