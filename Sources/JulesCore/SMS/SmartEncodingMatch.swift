/// Whether a body the provider lists is the body that was sent, allowing for Twilio's Smart Encoding.
///
/// With Smart Encoding (on by default for Messaging Services, and per message), Twilio replaces the characters GSM-7
/// lacks by look-alikes it has (curly quotes by straight ones, dashes by `-`, `…` by `...`, unusual spaces by
/// spaces; invisible ones are dropped) whenever that makes the whole body GSM-7, and its message list then shows the
/// replaced body. Its table is long, documented only in part, and not the same from one source to another (Twilio's
/// own segment calculator turns a no-break space into two spaces and a tab into seven), so the match does not copy
/// it. Instead: every character of the sent body that GSM-7 has must be in the listed body, unchanged and in the same
/// order; each one GSM-7 lacks may be there unchanged, or replaced by up to ``maximumReplacement`` GSM-7 characters,
/// or dropped. A different message (another word, another number, other punctuation that GSM-7 has) does not match.
enum SmartEncodingMatch {
    /// The most GSM-7 characters one character may have become.
    static let maximumReplacement = 8

    static func matches(sent: String, listed: String) -> Bool {
        if sent == listed { return true }
        let sent = Array(sent.unicodeScalars)
        let listed = Array(listed.unicodeScalars)
        // A cheap bound first: the listed body holds every GSM-7 character sent, and at most so many others.
        let kept = sent.count(where: { SMSEncoding.isGSM7($0) })
        guard listed.count >= kept, listed.count <= kept + (sent.count - kept) * maximumReplacement else {
            return false
        }
        // How far into the listed body each prefix of the sent body can reach.
        var reachable = [Bool](repeating: false, count: listed.count + 1)
        reachable[0] = true
        for scalar in sent {
            var next = [Bool](repeating: false, count: listed.count + 1)
            var any = false
            for position in reachable.indices where reachable[position] {
                if position < listed.count, listed[position] == scalar {
                    next[position + 1] = true
                    any = true
                }
                guard !SMSEncoding.isGSM7(scalar) else { continue }
                // Dropped, or replaced by up to maximumReplacement GSM-7 characters.
                next[position] = true
                any = true
                var end = position
                while end < listed.count, end - position < maximumReplacement, SMSEncoding.isGSM7(listed[end]) {
                    end += 1
                    next[end] = true
                }
            }
            guard any else { return false }
            reachable = next
        }
        return reachable[listed.count]
    }
}
