package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/leadsvc/leadsvc/api"
	"github.com/leadsvc/leadsvc/domain"
)

// Config is everything leadsvc reads from the environment. Only this
// package reads the environment; everything else takes explicit configs.
type Config struct {
	Addr        string // LEADSVC_ADDR
	DatabaseURL string // DATABASE_URL
	NATSURL     string // NATS_URL; empty runs an embedded server
	NATSListen  string // LEADSVC_NATS_LISTEN; embedded server's client address, none by default
	// DebugAddr (LEADSVC_DEBUG_ADDR) serves Go's profiles (net/http/pprof)
	// on a listener of their own; none by default.
	DebugAddr     string
	NATSStream    string // LEADSVC_NATS_STREAM
	SubjectPrefix string // LEADSVC_NATS_SUBJECT_PREFIX
	// StreamReplicas (LEADSVC_STREAM_REPLICAS) are the stream's replicas,
	// 1..5; 0, when unset, lets the relay choose (3 on a cluster, else 1).
	StreamReplicas int
	DataDir        string // LEADSVC_DATA_DIR, else the user's data directory; see dataDirFrom
	SecretKey      []byte // LEADSVC_SECRET_KEY, 32 bytes, base64; generated into DataDir when unset
	SecretKeySet   bool   // whether SecretKey came from the environment
	// SecretKeysPrevious (LEADSVC_SECRET_KEYS_PREVIOUS) open secrets,
	// cursors and console forms made under keys other than SecretKey;
	// they never seal or sign (docs/operations.md#key-rotation).
	SecretKeysPrevious [][]byte
	PublicURL          string        // LEADSVC_PUBLIC_URL; base of docs URLs
	LogFormat          string        // LEADSVC_LOG_FORMAT: json, text or auto
	LogLevel           string        // LEADSVC_LOG_LEVEL: debug, info, warn, error
	ShutdownTimeout    time.Duration // LEADSVC_SHUTDOWN_TIMEOUT
	// ShutdownDelay (LEADSVC_SHUTDOWN_DELAY) is how long shutdown keeps
	// serving with /readyz failing, so that load balancers stop sending
	// before the listener closes.
	ShutdownDelay  time.Duration
	RateLimit      int   // LEADSVC_RATE_LIMIT: requests per token per minute
	MaxUploadBytes int64 // LEADSVC_MAX_UPLOAD_BYTES: largest file upload
	// AddressRateLimit (LEADSVC_ADDRESS_RATE_LIMIT) is each client
	// address's budget per minute of failed authentications, unknown
	// docs ids and console sign-ins.
	AddressRateLimit int
	// TrustedProxies (LEADSVC_TRUSTED_PROXIES) are the proxies whose
	// ClientAddressHeader (LEADSVC_CLIENT_ADDRESS_HEADER) names the client.
	TrustedProxies      []netip.Prefix
	ClientAddressHeader string
	UploadQuotaBytes    int64 // LEADSVC_UPLOAD_QUOTA_BYTES: what an account's files may hold together
	UploadsPerProcess   int   // LEADSVC_UPLOADS_PER_PROCESS: uploads in progress at once
	UploadsPerAccount   int   // LEADSVC_UPLOADS_PER_ACCOUNT: one account's uploads in progress at once
	// WebhooksAllowPrivate (LEADSVC_WEBHOOKS_ALLOW_PRIVATE) lets webhook
	// endpoints be private, loopback or link-local addresses.
	WebhooksAllowPrivate bool
	// RetentionInterval (LEADSVC_RETENTION_INTERVAL) is how often the
	// retention job looks for leads past their campaign's policy; 0
	// ("off") runs no job in this process.
	RetentionInterval time.Duration
	// Clock is not read from the environment: tests move the commands'
	// time with it (a lead's age, the retention job's now); nil is
	// time.Now.
	Clock func() time.Time
	// Tracing is on when OTEL_TRACES_EXPORTER is "otlp", or when it is
	// unset and an OTLP endpoint is (OTEL_EXPORTER_OTLP_ENDPOINT,
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); OTEL_SDK_DISABLED=true turns it
	// off. The exporter reads the other OTEL_* variables itself.
	Tracing        bool
	TracesExporter string // OTEL_TRACES_EXPORTER: otlp, none or unset
	OTLPProtocol   string // OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: only http/protobuf is built in
}

// Defaults that make `leadsvc serve` work with no configuration on the
// machine `make run` prepared.
const (
	DefaultAddr          = ":8080"
	DefaultDatabaseURL   = "postgres://postgres@127.0.0.1:5432/leadsvc?sslmode=disable"
	DefaultNATSStream    = domain.DefaultStream
	DefaultSubjectPrefix = domain.DefaultSubjectPrefix
	// MaxUploadLimit bounds LEADSVC_MAX_UPLOAD_BYTES: an upload is
	// spooled to a temporary file while it arrives, and one transaction
	// stores it.
	MaxUploadLimit = 256 << 20
	// DefaultShutdownDelay covers a load balancer probing /readyz every
	// few seconds.
	DefaultShutdownDelay = 5 * time.Second
	// DefaultRetentionInterval keeps erasures within about a minute of a
	// lead passing its campaign's period.
	DefaultRetentionInterval = time.Minute
)

// LoadConfig reads the environment through getenv, applies defaults and
// validates; the returned error joins every problem found.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:            or(getenv("LEADSVC_ADDR"), DefaultAddr),
		DatabaseURL:     or(getenv("DATABASE_URL"), DefaultDatabaseURL),
		NATSURL:         getenv("NATS_URL"),
		NATSListen:      getenv("LEADSVC_NATS_LISTEN"),
		DebugAddr:       getenv("LEADSVC_DEBUG_ADDR"),
		NATSStream:      or(getenv("LEADSVC_NATS_STREAM"), DefaultNATSStream),
		SubjectPrefix:   or(getenv("LEADSVC_NATS_SUBJECT_PREFIX"), DefaultSubjectPrefix),
		DataDir:         dataDirFrom(getenv),
		PublicURL:       getenv("LEADSVC_PUBLIC_URL"),
		LogFormat:       or(getenv("LEADSVC_LOG_FORMAT"), "auto"),
		LogLevel:        or(getenv("LEADSVC_LOG_LEVEL"), "info"),
		ShutdownTimeout: 30 * time.Second,
		ShutdownDelay:   DefaultShutdownDelay,
		RateLimit:       api.DefaultRateLimit,
		MaxUploadBytes:  api.DefaultMaxUploadBytes,

		AddressRateLimit:    api.DefaultAddressRateLimit,
		ClientAddressHeader: or(getenv("LEADSVC_CLIENT_ADDRESS_HEADER"), api.HeaderXForwardedFor),
		UploadQuotaBytes:    api.DefaultUploadQuotaBytes,
		UploadsPerProcess:   api.DefaultUploadsPerProcess,
		UploadsPerAccount:   api.DefaultUploadsPerAccount,
		RetentionInterval:   DefaultRetentionInterval,
	}
	var errs []error
	for _, n := range []struct {
		name string
		into *int
	}{{"LEADSVC_ADDRESS_RATE_LIMIT", &c.AddressRateLimit}, {"LEADSVC_UPLOADS_PER_PROCESS", &c.UploadsPerProcess},
		{"LEADSVC_UPLOADS_PER_ACCOUNT", &c.UploadsPerAccount}} {
		if v := getenv(n.name); v != "" {
			i, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a whole number", n.name, v))
			}
			*n.into = i
		}
	}
	c.TracesExporter = getenv("OTEL_TRACES_EXPORTER")
	c.OTLPProtocol = or(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	endpoint := or(getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT"))
	c.Tracing = !strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") &&
		(c.TracesExporter == "otlp" || c.TracesExporter == "" && endpoint != "")
	if v := getenv("LEADSVC_STREAM_REPLICAS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5 {
			errs = append(errs, fmt.Errorf("LEADSVC_STREAM_REPLICAS: %q is not a number of replicas from 1 to 5", v))
		}
		c.StreamReplicas = n
	}
	if v := getenv("LEADSVC_UPLOAD_QUOTA_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("LEADSVC_UPLOAD_QUOTA_BYTES: %q is not a number of bytes", v))
		}
		c.UploadQuotaBytes = n
	}
	if v := getenv("LEADSVC_TRUSTED_PROXIES"); v != "" {
		p, err := api.ParseTrustedProxies(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("LEADSVC_TRUSTED_PROXIES: %w", err))
		}
		c.TrustedProxies = p
	}
	if v := getenv("LEADSVC_RATE_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("LEADSVC_RATE_LIMIT: %q is not a whole number of requests per minute", v))
		}
		c.RateLimit = n
	}
	if v := getenv("LEADSVC_MAX_UPLOAD_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("LEADSVC_MAX_UPLOAD_BYTES: %q is not a number of bytes", v))
		}
		c.MaxUploadBytes = n
	}
	if v := getenv("LEADSVC_WEBHOOKS_ALLOW_PRIVATE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("LEADSVC_WEBHOOKS_ALLOW_PRIVATE: %q is not true or false", v))
		}
		c.WebhooksAllowPrivate = b
	}
	if v := getenv("LEADSVC_SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("LEADSVC_SHUTDOWN_TIMEOUT: %q is not a positive duration such as 30s", v))
		}
		c.ShutdownTimeout = d
	}
	if v := getenv("LEADSVC_RETENTION_INTERVAL"); v == "off" {
		c.RetentionInterval = 0
	} else if v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			errs = append(errs, fmt.Errorf("LEADSVC_RETENTION_INTERVAL: %q is not a duration of 1s or more such as 1m, or off", v))
		}
		c.RetentionInterval = d
	}
	if v := getenv("LEADSVC_SHUTDOWN_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("LEADSVC_SHUTDOWN_DELAY: %q is not a duration of 0 or more such as 5s", v))
		}
		c.ShutdownDelay = d
	}
	if v := getenv("LEADSVC_SECRET_KEY"); v != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil || len(key) != 32 {
			errs = append(errs, errors.New("LEADSVC_SECRET_KEY: must be 32 random bytes, base64-encoded (openssl rand -base64 32)"))
		}
		c.SecretKey, c.SecretKeySet = key, true
	}
	if v := getenv("LEADSVC_SECRET_KEYS_PREVIOUS"); v != "" {
		for i, item := range strings.Split(v, ",") {
			key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(item))
			if err != nil || len(key) != 32 {
				// The value is a secret: only its place is named.
				errs = append(errs, fmt.Errorf("LEADSVC_SECRET_KEYS_PREVIOUS: key %d of the list is not 32 bytes, base64-encoded", i+1))
				continue
			}
			c.SecretKeysPrevious = append(c.SecretKeysPrevious, key)
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + localURLHost(c.Addr)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	errs = append(errs, c.Validate())
	return c, errors.Join(errs...)
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("LEADSVC_ADDR: %q is not host:port (e.g. :8080)", c.Addr))
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		errs = append(errs, fmt.Errorf("LEADSVC_DATA_DIR: %q is relative; name it from the root so that every command finds it wherever it runs", c.DataDir))
	}
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		errs = append(errs, errors.New("DATABASE_URL: must be a postgres:// URL"))
	}
	if c.NATSURL != "" {
		if u, err := url.Parse(c.NATSURL); err != nil || u.Scheme == "" {
			errs = append(errs, errors.New("NATS_URL: must be a URL such as nats://127.0.0.1:4222"))
		}
	}
	if c.NATSListen != "" {
		if _, port, err := net.SplitHostPort(c.NATSListen); err != nil || !isPort(port) {
			errs = append(errs, fmt.Errorf("LEADSVC_NATS_LISTEN: %q is not host:port", c.NATSListen))
		}
	}
	if c.DebugAddr != "" {
		if _, port, err := net.SplitHostPort(c.DebugAddr); err != nil || !isPort(port) {
			errs = append(errs, fmt.Errorf("LEADSVC_DEBUG_ADDR: %q is not host:port (e.g. 127.0.0.1:6060)", c.DebugAddr))
		}
	}
	if c.NATSStream == "" || strings.ContainsAny(c.NATSStream, ". *>") {
		errs = append(errs, fmt.Errorf("LEADSVC_NATS_STREAM: %q is not a valid stream name", c.NATSStream))
	}
	if c.SubjectPrefix == "" || strings.ContainsAny(c.SubjectPrefix, " *>") {
		errs = append(errs, fmt.Errorf("LEADSVC_NATS_SUBJECT_PREFIX: %q is not a valid subject prefix", c.SubjectPrefix))
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("LEADSVC_PUBLIC_URL: %q is not an http(s) URL", c.PublicURL))
	}
	if c.RateLimit < 1 || c.RateLimit > 1_000_000 {
		errs = append(errs, fmt.Errorf("LEADSVC_RATE_LIMIT: %d is not between 1 and 1000000 requests per minute", c.RateLimit))
	}
	if c.MaxUploadBytes < 1 || c.MaxUploadBytes > MaxUploadLimit {
		errs = append(errs, fmt.Errorf("LEADSVC_MAX_UPLOAD_BYTES: %d is not between 1 and %d", c.MaxUploadBytes, MaxUploadLimit))
	}
	if c.AddressRateLimit < 1 || c.AddressRateLimit > 1_000_000 {
		errs = append(errs, fmt.Errorf("LEADSVC_ADDRESS_RATE_LIMIT: %d is not between 1 and 1000000 requests per minute", c.AddressRateLimit))
	}
	if c.UploadQuotaBytes < 1 {
		errs = append(errs, fmt.Errorf("LEADSVC_UPLOAD_QUOTA_BYTES: %d is not a positive number of bytes", c.UploadQuotaBytes))
	}
	for name, n := range map[string]int{"LEADSVC_UPLOADS_PER_PROCESS": c.UploadsPerProcess, "LEADSVC_UPLOADS_PER_ACCOUNT": c.UploadsPerAccount} {
		if n < 1 || n > 10_000 {
			errs = append(errs, fmt.Errorf("%s: %d is not between 1 and 10000 uploads", name, n))
		}
	}
	if c.ClientAddressHeader != api.HeaderXForwardedFor && c.ClientAddressHeader != api.HeaderForwarded {
		errs = append(errs, fmt.Errorf("LEADSVC_CLIENT_ADDRESS_HEADER: %q is not %s or %s", c.ClientAddressHeader,
			api.HeaderXForwardedFor, api.HeaderForwarded))
	}
	if c.TracesExporter != "" && c.TracesExporter != "otlp" && c.TracesExporter != "none" {
		errs = append(errs, fmt.Errorf("OTEL_TRACES_EXPORTER: %q is not otlp or none", c.TracesExporter))
	}
	if c.Tracing && c.OTLPProtocol != "" && c.OTLPProtocol != "http/protobuf" {
		errs = append(errs, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL: %q is not http/protobuf, the only protocol built in", c.OTLPProtocol))
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		errs = append(errs, fmt.Errorf("LEADSVC_LOG_FORMAT: %q is not json, text or auto", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LEADSVC_LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// dataDirFrom is where the generated secret key, the embedded NATS
// server's storage and the demo's tokens are kept: LEADSVC_DATA_DIR, else
// $XDG_DATA_HOME/leadsvc, else $HOME/.local/share/leadsvc. Never the
// working directory: a command run from another folder must find the same
// key. Empty when none of the three is set.
func dataDirFrom(getenv func(string) string) string {
	if d := getenv("LEADSVC_DATA_DIR"); d != "" {
		return d
	}
	// The XDG base directory spec ignores a relative XDG_DATA_HOME.
	if d := getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "leadsvc")
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "share", "leadsvc")
	}
	return ""
}

// dataDir is c.DataDir, or why there is none.
func (c Config) dataDir() (string, error) {
	if c.DataDir == "" {
		return "", errors.New("there is no data directory: LEADSVC_DATA_DIR, XDG_DATA_HOME and HOME are unset; set LEADSVC_DATA_DIR")
	}
	return c.DataDir, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n < 65536
}

// localURLHost turns a listen address into one a browser on this machine
// can open: ":8080" → "localhost:8080".
func localURLHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "localhost:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
