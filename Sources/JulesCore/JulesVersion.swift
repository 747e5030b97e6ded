/// The version of Jules core, reported by `health.live`, `rpc.discover` and `jules --version`.
public enum JulesVersion {
    public static let current = "0.1.0"
}
