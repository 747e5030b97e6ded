#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The wall clock in whole Unix seconds, the unit of Fernet timestamps.
///
/// Read from `time(2)` rather than Foundation so the library does not need Foundation for one number.
@usableFromInline
enum UnixTime {
    /// The current time in seconds since 1970-01-01T00:00:00Z.
    @usableFromInline
    static func now() -> Int64 {
        Int64(time(nil))
    }
}
