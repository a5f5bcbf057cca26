using System.Collections.Concurrent;
using System.Text;

namespace PaymentFunctions.Fakes.Events;

/// <summary>What the business system's receiver can be told to do to the next requests.</summary>
public enum ReceiverFault
{
    /// <summary>500 with a short body.</summary>
    Error,

    /// <summary>Never answers (until the caller gives up).</summary>
    Hang,

    /// <summary>302 to another path (a caller that follows it hits <c>…/redirected</c>).</summary>
    Redirect,

    /// <summary>200, but only after <see cref="FakeReceiverState.SlowDelay"/>.</summary>
    Slow,

    /// <summary>500 with a body of several megabytes.</summary>
    Huge,
}

/// <summary>One request the receiver got: its headers and body exactly, and how it answered.</summary>
public sealed record ReceivedRequest(IReadOnlyDictionary<string, string> Headers, string Body, string Answer, DateTimeOffset At);

/// <summary>
/// A business system's event receiver, for the tests and the local run: it records every request (headers and body)
/// and verifies nothing itself (the tests verify with an independent Standard Webhooks library); it fails on demand.
/// </summary>
public sealed class FakeReceiverState
{
    private readonly ConcurrentDictionary<string, Receiver> _receivers = new(StringComparer.Ordinal);

    public TimeSpan SlowDelay { get; set; } = TimeSpan.FromSeconds(3);

    public IReadOnlyList<ReceivedRequest> Received(string name) => Get(name).Snapshot();

    /// <summary>The next <paramref name="times"/> requests to <paramref name="name"/> get <paramref name="fault"/> (after any queued before).</summary>
    public void Fail(string name, ReceiverFault fault, int times = 1)
    {
        var receiver = Get(name);
        for (var i = 0; i < times; i++)
        {
            receiver.Faults.Enqueue(fault);
        }
    }

    /// <summary>Every request fails with <paramref name="fault"/> until <see cref="Reset"/>.</summary>
    public void FailAlways(string name, ReceiverFault? fault) => Get(name).Always = fault;

    public int RedirectsFollowed(string name) => Get(name).Followed;

    public void Reset(string name) => _receivers.TryRemove(name, out _);

    internal Receiver Get(string name) => _receivers.GetOrAdd(name, _ => new Receiver());

    internal sealed class Receiver
    {
        private readonly List<ReceivedRequest> _requests = [];

        public ConcurrentQueue<ReceiverFault> Faults { get; } = new();

        public ReceiverFault? Always { get; set; }

        public int Followed;

        public void Record(ReceivedRequest request)
        {
            lock (_requests)
            {
                _requests.Add(request);
            }
        }

        public IReadOnlyList<ReceivedRequest> Snapshot()
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }

        public ReceiverFault? Next() => Faults.TryDequeue(out var fault) ? fault : Always;
    }
}

public static class FakeReceiver
{
    /// <summary>
    /// <c>POST /fake/receiver/{name}</c> receives; <c>GET</c> lists what it got; <c>POST …/fail?mode=error|hang|redirect|slow|huge&amp;times=n</c>
    /// arranges failures; <c>DELETE</c> forgets everything.
    /// </summary>
    public static IEndpointRouteBuilder MapFakeReceiver(this IEndpointRouteBuilder app, FakeReceiverState state)
    {
        app.MapPost("/fake/receiver/{name}", (string name, HttpContext context) => ReceiveAsync(state, name, context));
        app.MapGet("/fake/receiver/{name}", (string name) => Results.Ok(state.Received(name)));
        app.MapPost("/fake/receiver/{name}/fail", (string name, string mode, int? times) =>
        {
            if (!Enum.TryParse<ReceiverFault>(mode, ignoreCase: true, out var fault))
            {
                return Results.BadRequest(new { error = "mode is one of error, hang, redirect, slow, huge" });
            }

            state.Fail(name, fault, times ?? 1);
            return Results.Ok(new { name, mode = fault.ToString(), times = times ?? 1 });
        });
        app.MapDelete("/fake/receiver/{name}", (string name) =>
        {
            state.Reset(name);
            return Results.NoContent();
        });
        app.MapMethods("/fake/receiver/{name}/redirected", ["GET", "POST"], (string name) =>
        {
            Interlocked.Increment(ref state.Get(name).Followed);
            return Results.Ok();
        });
        return app;
    }

    private static async Task ReceiveAsync(FakeReceiverState state, string name, HttpContext context)
    {
        var receiver = state.Get(name);
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString(), StringComparer.Ordinal);
        var fault = receiver.Next();
        receiver.Record(new ReceivedRequest(headers, body, fault?.ToString() ?? "OK", DateTimeOffset.UtcNow));
        var response = context.Response;
        switch (fault)
        {
            case null:
                response.StatusCode = StatusCodes.Status204NoContent;
                break;
            case ReceiverFault.Error:
                response.StatusCode = StatusCodes.Status500InternalServerError;
                await response.WriteAsync("receiver is down", context.RequestAborted);
                break;
            case ReceiverFault.Redirect:
                response.StatusCode = StatusCodes.Status302Found;
                response.Headers.Location = $"/fake/receiver/{name}/redirected";
                break;
            case ReceiverFault.Slow:
                await Task.Delay(state.SlowDelay, context.RequestAborted);
                response.StatusCode = StatusCodes.Status200OK;
                break;
            case ReceiverFault.Hang:
                await Task.Delay(Timeout.InfiniteTimeSpan, context.RequestAborted);
                break;
            case ReceiverFault.Huge:
                response.StatusCode = StatusCodes.Status500InternalServerError;
                var chunk = Encoding.ASCII.GetBytes(new string('x', 64 * 1024));
                for (var i = 0; i < 128 && !context.RequestAborted.IsCancellationRequested; i++)
                {
                    await response.Body.WriteAsync(chunk, context.RequestAborted);
                }

                break;
        }
    }
}
