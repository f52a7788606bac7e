package decode

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// TimeFormat is one way a timestamp field may be written.
type TimeFormat struct {
	name   string
	layout string // a Go layout, for "layout" formats
}

// Time formats known by name.
var (
	FormatRFC3339 = TimeFormat{name: "rfc3339"}
	FormatISO8601 = TimeFormat{name: "iso8601"}
	FormatUnix    = TimeFormat{name: "unix"}
	FormatUnixMs  = TimeFormat{name: "unix_ms"}
	FormatUnixUs  = TimeFormat{name: "unix_us"}
	FormatUnixNs  = TimeFormat{name: "unix_ns"}
	FormatAuto    = TimeFormat{name: "auto"}
)

// ParseTimeFormat reads a format name (rfc3339, iso8601, unix, unix_ms,
// unix_us, unix_ns, auto) or a Go layout such as "02/Jan/2006:15:04:05 -0700".
func ParseTimeFormat(s string) (TimeFormat, error) {
	for _, f := range []TimeFormat{FormatRFC3339, FormatISO8601, FormatUnix, FormatUnixMs, FormatUnixUs, FormatUnixNs, FormatAuto} {
		if s == f.name {
			return f, nil
		}
	}
	if !strings.Contains(s, "2006") && !strings.Contains(s, "06") {
		return TimeFormat{}, fmt.Errorf("time format %q: not a known name (rfc3339, iso8601, unix, unix_ms, unix_us, unix_ns, auto) nor a Go layout with a year", s)
	}
	return TimeFormat{name: "layout", layout: s}, nil
}

func (f TimeFormat) String() string {
	if f.name == "layout" {
		return f.layout
	}
	return f.name
}

var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05,999999999",
	"2006-01-02T15:04:05,999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999 -0700",
}

// ParseTime parses a raw JSON value (string or number) with the first
// format that fits, returning Unix nanoseconds.
func ParseTime(raw []byte, formats []TimeFormat) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	isString := raw[0] == '"'
	if isString && len(raw) >= 2 && len(formats) > 0 && (formats[0].name == "rfc3339" || formats[0].name == "iso8601" || formats[0].name == "auto") {
		// The first layout these formats try is RFC 3339: read the
		// common case without time.Parse and without allocating.
		if ns, ok := fastRFC3339(raw[1 : len(raw)-1]); ok {
			return ns, true
		}
	}
	s := string(raw)
	if isString {
		v, ok := StringValue(raw)
		if !ok {
			return 0, false
		}
		s = v
	}
	for _, f := range formats {
		if ns, ok := f.parse(s, isString); ok {
			return ns, true
		}
	}
	return 0, false
}

func (f TimeFormat) parse(s string, isString bool) (int64, bool) {
	switch f.name {
	case "rfc3339":
		if !isString {
			return 0, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		return t.UnixNano(), err == nil
	case "iso8601":
		if !isString {
			return 0, false
		}
		for _, l := range isoLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UnixNano(), true
			}
		}
		return 0, false
	case "unix":
		return epoch(s, 1e9)
	case "unix_ms":
		return epoch(s, 1e6)
	case "unix_us":
		return epoch(s, 1e3)
	case "unix_ns":
		return epoch(s, 1)
	case "auto":
		if isString {
			if ns, ok := FormatISO8601.parse(s, true); ok {
				return ns, true
			}
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 || math.IsInf(v, 0) {
			return 0, false
		}
		// By magnitude: seconds until 5e9 (year 2128), then ms, us, ns.
		switch {
		case v < 5e9:
			return epoch(s, 1e9)
		case v < 5e12:
			return epoch(s, 1e6)
		case v < 5e15:
			return epoch(s, 1e3)
		default:
			return epoch(s, 1)
		}
	case "layout":
		if !isString {
			return 0, false
		}
		t, err := time.Parse(f.layout, s)
		return t.UnixNano(), err == nil
	}
	return 0, false
}

func epoch(s string, unit int64) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	if whole == "" || strings.ContainsAny(whole, "eE+-") {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/unit {
		return 0, false
	}
	ns := w * unit
	// The fraction, exactly: as many digits as the unit has.
	digits := len(strconv.FormatInt(unit, 10)) - 1
	if frac != "" {
		for _, c := range frac {
			if c < '0' || c > '9' {
				return 0, false
			}
		}
		if len(frac) > digits {
			frac = frac[:digits]
		}
		frac += strings.Repeat("0", digits-len(frac))
		if digits > 0 {
			f, _ := strconv.ParseInt(frac, 10, 64)
			ns += f
		}
	}
	if neg {
		ns = -ns
	}
	return ns, true
}

// fastRFC3339 reads 2006-01-02T15:04:05[.999999999](Z|-07:00) with a year
// from 1970 to 2200 (so the nanoseconds cannot overflow), giving what
// time.Parse(time.RFC3339Nano, s).UnixNano() gives; false means "ask
// time.Parse" (anything else, including what it would reject).
func fastRFC3339(b []byte) (int64, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	year, ok1 := digits4(b[0:4])
	month, ok2 := digits2(b[5:7])
	day, ok3 := digits2(b[8:10])
	hour, ok4 := digits2(b[11:13])
	minute, ok5 := digits2(b[14:16])
	sec, ok6 := digits2(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || year < 1970 || year > 2200 || month < 1 || month > 12 ||
		day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return 0, false
	}
	b = b[19:]
	nsec := 0
	if len(b) >= 2 && b[0] == '.' && b[1] >= '0' && b[1] <= '9' {
		n := 1
		for n < len(b) && b[n] >= '0' && b[n] <= '9' {
			if n <= 9 {
				nsec = nsec*10 + int(b[n]-'0')
			}
			n++
		}
		for k := min(n-1, 9); k < 9; k++ {
			nsec *= 10
		}
		b = b[n:]
	}
	offset := 0
	switch {
	case len(b) == 1 && b[0] == 'Z':
	case len(b) == 6 && (b[0] == '+' || b[0] == '-') && b[3] == ':':
		hh, ok1 := digits2(b[1:3])
		mm, ok2 := digits2(b[4:6])
		if !ok1 || !ok2 || hh > 23 || mm > 59 {
			return 0, false
		}
		offset = (hh*60 + mm) * 60
		if b[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	secs := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	return secs*1e9 + int64(nsec), true
}

func digits2(b []byte) (int, bool) {
	d0, d1 := b[0]-'0', b[1]-'0'
	return int(d0)*10 + int(d1), d0 <= 9 && d1 <= 9
}

func digits4(b []byte) (int, bool) {
	h, ok1 := digits2(b[0:2])
	l, ok2 := digits2(b[2:4])
	return h*100 + l, ok1 && ok2
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch is the number of days from 1970-01-01 to a date of the
// proleptic Gregorian calendar (year >= 1).
func daysSinceEpoch(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400
	yoe := year - era*400
	mp := (month + 9) % 12
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}
