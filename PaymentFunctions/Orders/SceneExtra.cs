using System.Text.Json;

namespace PaymentFunctions.Orders;

/// <summary>
/// P云 <c>trade_scene</c> values and the <c>extra</c> fields each requires (P云 开放平台, 附录: trade_scene 与 extra). Field names are
/// P云's own, because <c>extra</c> is passed through to P云 as a JSON string.
/// </summary>
public static class SceneExtra
{
    public enum Kind { Text, Digits, Fen }

    public sealed record Field(string Name, bool Required, Kind Kind, int MaxLength = 64, string[]? Allowed = null);

    private static readonly string[] PlateColors = ["1", "2", "3", "4", "5", "-1"];
    private static readonly string[] PlateTypes = ["0", "1", "2"];
    private static readonly Field Receipt = new("receipt", false, Kind.Text, 1, ["1"]);
    private static readonly Field AutoPay = new("autopay", false, Kind.Text, 1, ["0", "1"]);

    public static readonly IReadOnlyDictionary<string, Field[]> Scenes = new Dictionary<string, Field[]>(StringComparer.Ordinal)
    {
        ["PARKING"] =
        [
            new("plate", true, Kind.Text, 16), new("plate_color", true, Kind.Text, 2, PlateColors),
            new("plate_type", false, Kind.Text, 1, PlateTypes), new("card_id", false, Kind.Text), new("gate_id", false, Kind.Text),
            new("parking_serial", true, Kind.Text), new("park_name", true, Kind.Text), new("enter_time", true, Kind.Digits, 13),
            new("parking_time", true, Kind.Digits, 10), new("free_value", true, Kind.Fen), Receipt, new("discount", false, Kind.Fen), AutoPay,
        ],
        ["RECHARGE"] =
        [
            new("plate", true, Kind.Text, 16), new("plate_color", true, Kind.Text, 2, PlateColors),
            new("plate_type", false, Kind.Text, 1, PlateTypes), new("type", true, Kind.Text, 1, ["1", "2", "3", "4", "5", "6", "7"]),
            new("charge_type", true, Kind.Text, 32), new("quantity", true, Kind.Digits, 9),
            new("renewal_start_time", true, Kind.Digits, 8), new("renewal_end_time", true, Kind.Digits, 8), Receipt, AutoPay,
        ],
        ["ENERGY"] =
        [
            new("plate", false, Kind.Text, 16), new("mobile", false, Kind.Text, 20), new("device_no", true, Kind.Text),
            new("port_no", true, Kind.Text), new("quantity", true, Kind.Fen), new("energy_value", true, Kind.Fen),
            new("service_value", true, Kind.Fen), new("start_time", true, Kind.Text, 19), new("end_time", true, Kind.Text, 19),
            new("replenish_time", true, Kind.Fen), new("replenish_type", false, Kind.Text, 1, ["1", "2", "3"]),
            new("energy_code", false, Kind.Text, 5, ["CN_AC", "CN_DC"]), new("device_type", false, Kind.Text, 1, ["0", "1"]),
            new("state", false, Kind.Text, 2, ["-1", "3"]), new("state_desc", false, Kind.Text, 64),
        ],
        ["LIVING"] = [new("room_no", true, Kind.Text)],
        // P云 documents no fields for GENERIC; only the auto-pay prompt is known.
        ["GENERIC"] = [AutoPay],
    };

    /// <summary>
    /// Checks <paramref name="extra"/> against the scene; returns the problems, each with the JSON path of its field
    /// as the client sent it (<c>extra.plate_color</c>: P云's names are kept) and a message naming it.
    /// </summary>
    public static IEnumerable<(string Path, string Message)> Validate(string scene, JsonElement extra)
    {
        if (!Scenes.TryGetValue(scene, out var fields))
        {
            yield break; // the scene itself is reported by the validator
        }

        if (extra.ValueKind != JsonValueKind.Object)
        {
            yield return ("extra", "'extra' must be a JSON object with the scene's fields.");
            yield break;
        }

        var known = fields.ToDictionary(f => f.Name, StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in extra.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                var path = $"extra.{Http.RequestBody.Clip(property.Name)}";
                yield return (path, $"'{path}' appears more than once.");
            }
            else if (!known.TryGetValue(property.Name, out var field))
            {
                var path = $"extra.{Http.RequestBody.Clip(property.Name)}";
                yield return (path, $"'{path}' is not a field of scene {scene}.");
            }
            else if (Check(field, property.Value) is { } problem)
            {
                yield return ($"extra.{field.Name}", $"'extra.{field.Name}' {problem}");
            }
        }

        foreach (var field in fields.Where(f => f.Required && !seen.Contains(f.Name)))
        {
            yield return ($"extra.{field.Name}", $"'extra.{field.Name}' is required for scene {scene}.");
        }
    }

    private static string? Check(Field field, JsonElement value)
    {
        switch (field.Kind)
        {
            case Kind.Fen:
                return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n >= 0 && !value.GetRawText().Contains('.', StringComparison.Ordinal)
                    && !value.GetRawText().Contains('e', StringComparison.OrdinalIgnoreCase)
                    ? null
                    : "must be a whole, non-negative number.";
            case Kind.Digits:
                if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: > 0 } digits || !digits.All(char.IsAsciiDigit))
                {
                    return "must be a string of digits.";
                }

                return digits.Length > field.MaxLength ? $"must be at most {field.MaxLength} digits." : null;
            default:
                if (value.ValueKind != JsonValueKind.String || value.GetString() is not { } text || string.IsNullOrWhiteSpace(text))
                {
                    return "must be a non-empty string.";
                }

                if (text.Length > field.MaxLength || text.Any(char.IsControl))
                {
                    return $"must be at most {field.MaxLength} printable characters.";
                }

                // extra goes to P云 as JSON text inside the signed form; '&' or '=' there would make the sign ambiguous.
                if (!Pyun.PyunSignature.IsSignable(text))
                {
                    return "must not contain '&' or '=': P云's signature cannot carry them.";
                }

                return field.Allowed is { } allowed && !allowed.Contains(text) ? $"must be one of {string.Join(", ", allowed)}." : null;
        }
    }
}
