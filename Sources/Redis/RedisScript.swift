/// A Lua script for ``RedisClient/evaluate(_:keys:arguments:)``.
///
/// Create scripts once (for example as `static let`) and reuse them: the client learns each script's SHA1
/// from `SCRIPT LOAD` the first time and then sends only `EVALSHA`.
public struct RedisScript: Sendable, Hashable {
    /// The Lua source.
    public let source: String

    /// A script with this Lua source.
    public init(_ source: String) {
        self.source = source
    }
}
