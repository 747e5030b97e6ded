import JulesCore

/// One input, the region it is typed in, and the E.164 number it must produce.
struct ParseCase: Sendable, CustomStringConvertible {
    let input: String
    let region: Region
    let e164: String

    init(_ input: String, _ region: Region, _ e164: String) {
        self.input = input
        self.region = region
        self.e164 = e164
    }

    var description: String { "\(input) [\(region)]" }
}

/// The reason `input` is rejected, or `nil` if it parses.
func failureReason(_ input: String, region: Region = .us) -> PhoneNumberError.Reason? {
    do {
        _ = try PhoneNumber(parsing: input, defaultRegion: region)
        return nil
    } catch {
        return error.reason
    }
}

/// A region that is known to be well formed; test-only convenience.
func region(_ code: String) -> Region {
    guard let region = Region(code: code) else { fatalError("bad test region \(code)") }
    return region
}
