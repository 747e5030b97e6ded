#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import ArgumentParser

/// Settings read from `JULES_*` environment variables when no flag gives them.
enum Environment {
    static func string(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// An integer from a flag, else from `variable`, else `defaultValue`, within `range`.
    /// - Throws: A validation error naming the flag or the variable and the accepted range.
    static func integer(
        _ variable: String,
        flag: (value: Int?, name: String)? = nil,
        default defaultValue: Int,
        range: ClosedRange<Int>
    ) throws -> Int {
        let (value, source): (Int, String)
        if let flag, let flagValue = flag.value {
            (value, source) = (flagValue, flag.name)
        } else if let text = string(variable) {
            guard let parsed = Int(text) else {
                throw ValidationError("\(variable) must be an integer, not \"\(text)\"")
            }
            (value, source) = (parsed, variable)
        } else {
            return defaultValue
        }
        guard range.contains(value) else {
            throw ValidationError("\(source) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }
}
