package storage

// Django datetimes: the forms Django REST framework's DateTimeField accepts.

import (
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

func (p *parser) datetime(field string) *time.Time {
	v, present, null := p.raw(field)
	if !present || null {
		return nil
	}
	// Django REST framework's DateTimeField tries to parse any value, and
	// says the same of a wrong type as of unparsable text.
	if kindOf(v) == pyStr {
		if t, ok := parseDatetime(pyText(v)); ok {
			return &t
		}
	}
	p.errs.add(field, msgDatetime)
	return nil
}

// parseDatetime reads s as Django's parse_datetime, which Django REST
// framework's DateTimeField uses: Python's datetime.fromisoformat, then
// Django's own pattern. A time without a zone is taken as UTC, the zone
// Label Studio runs in. The result is in UTC, to the microsecond, and
// within years 1…9999 (Python cannot hold others, nor JSON render them).
func parseDatetime(s string) (time.Time, bool) {
	t, ok := parseISOFormat(s)
	if !ok {
		t, ok = parseDjangoDatetime(s)
	}
	if !ok {
		return time.Time{}, false
	}
	t = t.UTC().Truncate(time.Microsecond)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// parseISOFormat reads what Python's datetime.fromisoformat reads: YYYY-MM-DD
// or YYYYMMDD, alone (midnight) or followed by any one character and a time
// HH[:MM[:SS[.f…]]] or HH[MM[SS[.f…]]] (the fraction after "." or ",", any
// number of digits, beyond six dropped), then optionally Z or an offset
// of the same form as the time, under 24 hours. Not read: week dates
// (2026-W48-6), and what CPython 3.11 takes by mistake (a stray last
// character of the time before an offset, "T100+01" as 10:00).
func parseISOFormat(s string) (time.Time, bool) {
	var date, rest string
	switch {
	case len(s) >= 10 && s[4] == '-' && s[7] == '-':
		date, rest = s[:4]+s[5:7]+s[8:10], s[10:]
	case len(s) >= 8 && s[4] != '-':
		date, rest = s[:8], s[8:]
	default:
		return time.Time{}, false
	}
	var ymd [3]int
	for i, width := range []int{4, 2, 2} {
		n, ok := fixedDigits(date[:width])
		if !ok {
			return time.Time{}, false
		}
		ymd[i], date = n, date[width:]
	}
	if rest == "" {
		return civilTime(ymd[0], ymd[1], ymd[2], 0, 0, 0, 0, time.UTC)
	}
	_, size := utf8.DecodeRuneInString(rest) // the separator: any character
	clock := rest[size:]
	var offset time.Duration // east of UTC
	if i := strings.IndexAny(clock, "Z+-"); i >= 0 {
		zone := clock[i:]
		clock = clock[:i]
		switch zone[0] {
		case 'Z':
			if zone != "Z" {
				return time.Time{}, false
			}
		default:
			hms, us, ok := parseClock(zone[1:])
			if !ok {
				return time.Time{}, false
			}
			offset = time.Duration(hms[0])*time.Hour + time.Duration(hms[1])*time.Minute +
				time.Duration(hms[2])*time.Second + time.Duration(us)*time.Microsecond
			if offset >= 24*time.Hour {
				return time.Time{}, false
			}
			if zone[0] == '-' {
				offset = -offset
			}
		}
	}
	hms, us, ok := parseClock(clock)
	if !ok {
		return time.Time{}, false
	}
	t, ok := civilTime(ymd[0], ymd[1], ymd[2], hms[0], hms[1], hms[2], us, time.UTC)
	return t.Add(-offset), ok
}

// parseClock reads HH[:MM[:SS[.f…]]] or HH[MM[SS[.f…]]] as Python's
// fromisoformat does, returning the fraction in microseconds.
func parseClock(s string) (hms [3]int, us int, ok bool) {
	colons := false
	for i := range 3 {
		if len(s) < 2 {
			return hms, 0, false
		}
		n, ok := fixedDigits(s[:2])
		if !ok {
			return hms, 0, false
		}
		hms[i], s = n, s[2:]
		if s == "" {
			return hms, 0, true
		}
		if i == 0 {
			colons = s[0] == ':'
		}
		switch {
		case colons && s[0] == ':' && i < 2:
			s = s[1:]
		case (s[0] == '.' || s[0] == ',') && i == 2:
			digits := s[1:]
			end := strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' })
			if digits == "" || end >= 0 { // no digits, or something after them
				return hms, 0, false
			}
			digits = (digits + "00000")[:6]
			us, _ = strconv.Atoi(digits)
			return hms, us, true
		case colons || i == 2:
			return hms, 0, false
		}
	}
	return hms, 0, false
}

// djangoDatetime is Django's datetime_re, the pattern parse_datetime falls
// back on, with Python's \d as ASCII digits, \s as Python's whitespace and
// $ also matching before a final newline.
var djangoDatetime = regexp.MustCompile(
	`^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[T ]([0-9]{1,2}):([0-9]{1,2})` +
		`(?::([0-9]{1,2})(?:[.,]([0-9]{1,6})[0-9]{0,6})?)?` +
		`[\t\n\v\f\r \x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]*` +
		`(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?\n?$`)

func parseDjangoDatetime(s string) (time.Time, bool) {
	m := djangoDatetime.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	var v [6]int
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1]) // an absent second is 0
	}
	us := 0
	if m[7] != "" {
		us, _ = strconv.Atoi((m[7] + "00000")[:6])
	}
	zone := time.UTC
	if tz := m[8]; tz != "" && tz != "Z" {
		hours, _ := strconv.Atoi(tz[1:3])
		minutes := 0
		if len(tz) > 3 {
			minutes, _ = strconv.Atoi(tz[len(tz)-2:])
		}
		offset := hours*60 + minutes
		if offset >= 24*60 {
			return time.Time{}, false
		}
		if tz[0] == '-' {
			offset = -offset
		}
		zone = time.FixedZone("", offset*60)
	}
	return civilTime(v[0], v[1], v[2], v[3], v[4], v[5], us, zone)
}

// civilTime builds a time from its fields, refusing what Python's datetime
// refuses (month 13, 30 February, hour 24, year 0 …).
func civilTime(year, month, day, hour, minute, second, us int, zone *time.Location) (time.Time, bool) {
	if year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, us*1000, zone)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}

func fixedDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
