"""The items of the production readiness checklist that rules point at, spelled once.

Keys read `Section > Group > Item` as the checklist has them. Each rule names the item it enforces
(in its `framework.reference`); `chittyos-edge readiness` lists every item, with the rules that
enforce it or the people who check it by hand.
"""

from __future__ import annotations

_WORKERS = "Infrastructure Readiness > Cloudflare Workers Configuration > "
WORKER_LIMITS = _WORKERS + "Resource limits optimized for AI workloads (100k CPU ms, 512MB memory)"
WORKER_VARS = _WORKERS + "Environment variables configured for production"
CUSTOM_DOMAINS = _WORKERS + "Custom domains configured (project-awareness.chitty.cc)"
COMPAT_FLAGS = _WORKERS + "Compatibility flags set for Node.js compatibility"

KV_IDS = "Infrastructure Readiness > KV Storage Setup > Production KV namespaces created with proper IDs"
KV_PERFORMANCE = "Infrastructure Readiness > KV Storage Setup > Storage performance settings optimized"
KV_RETENTION = "Infrastructure Readiness > KV Storage Setup > Data retention policies configured"
KV_BACKUP = "Infrastructure Readiness > KV Storage Setup > Backup strategies implemented"

_R2 = "Infrastructure Readiness > R2 Storage Configuration > "
R2_LIFECYCLE = _R2 + "Production buckets created with lifecycle policies"
R2_CORS = _R2 + "CORS configuration for cross-origin access"
R2_PUBLIC = _R2 + "Public access settings configured appropriately"
R2_ARCHIVAL = _R2 + "Data archival policies implemented"

_DO = "Infrastructure Readiness > Durable Objects Deployment > "
DO_CLASSES = _DO + "All Durable Object classes deployed"
DO_GEOGRAPHY = _DO + "Geographic distribution configured"
DO_SCALING = _DO + "Auto-scaling parameters set"
DO_MIGRATIONS = _DO + "Migration strategies validated"

_AE = "Infrastructure Readiness > Analytics Engine Setup > "
AE_DATASETS = _AE + "All datasets created (usage, performance, security, business)"
AE_SAMPLING = _AE + "Sampling rates configured appropriately"
AE_RETENTION = _AE + "Data retention policies set"
AE_DASHBOARDS = _AE + "Dashboard integrations tested"

_PRIMARY = "DNS and Domain Configuration > Primary Domain Setup > "
PRIMARY_DOMAIN = _PRIMARY + "project-awareness.chitty.cc configured"
SSL_VALID = _PRIMARY + "SSL certificate installed and valid"
HSTS_ENABLED = _PRIMARY + "HSTS configuration enabled"
CAA = _PRIMARY + "CAA records configured"

_API = "DNS and Domain Configuration > API Subdomain Setup > "
API_SUBDOMAIN = _API + "api.chitty.cc/project-awareness configured"
LOAD_BALANCING = _API + "Load balancing configured if needed"
FAILOVER_TESTED = _API + "Failover mechanisms tested"

_WS = "DNS and Domain Configuration > WebSocket Subdomain > "
WS_TESTED = _WS + "WebSocket connections tested globally"
WS_LIMITS = _WS + "Connection limits configured"
WS_TIMEOUTS = _WS + "Timeout settings optimized"

_CACHE = "CDN and Edge Configuration > Caching Rules > "
CACHE_RULES = _CACHE + "Intelligent caching rules deployed"
CACHE_INVALIDATION = _CACHE + "Cache invalidation triggers configured"
CACHE_TTL = _CACHE + "Edge cache TTL optimized"
CACHE_KEYS = _CACHE + "Cache key strategies validated"

_PERF = "CDN and Edge Configuration > Performance Optimization > "
COMPRESSION = _PERF + "Compression enabled for appropriate content"
MINIFICATION = _PERF + "Minification configured for assets"
HTTP3 = _PERF + "HTTP/2 and HTTP/3 enabled"
BROTLI = _PERF + "Brotli compression enabled"

_AI = "WAF Rules Implementation > AI-Specific Protection Rules > "
AI_VERIFICATION = _AI + "AI platform verification rules active"
SESSION_HIJACKING = _AI + "Session hijacking prevention configured"
API_ABUSE = _AI + "API abuse protection implemented"
SYNC_SECURITY = _AI + "Cross-platform sync security validated"

_STANDARD = "WAF Rules Implementation > Standard Security Rules > "
SQL_INJECTION = _STANDARD + "SQL injection protection enabled"
XSS = _STANDARD + "XSS protection configured"
PAYLOAD_LIMITS = _STANDARD + "Payload size limits enforced"
BOMB_PROTECTION = _STANDARD + "JSON/XML bomb protection active"

_RATE = "WAF Rules Implementation > Rate Limiting Configuration > "
ENDPOINT_LIMITS = _RATE + "Endpoint-specific rate limits configured"
BURST = _RATE + "Burst capacity settings optimized"
AI_BONUS = _RATE + "AI platform bonus rates configured"
WS_CONNECTION_LIMITS = _RATE + "WebSocket connection limits set"

_HEADERS = "Security Headers and Policies > Security Headers > "
HSTS_PRELOAD = _HEADERS + "HSTS configured with preload"
CSP = _HEADERS + "Content Security Policy implemented"
FRAME_OPTIONS = _HEADERS + "X-Frame-Options configured"
CONTENT_TYPE_OPTIONS = _HEADERS + "X-Content-Type-Options set"
REFERRER_POLICY = _HEADERS + "Referrer Policy configured"

_CORS = "Security Headers and Policies > CORS Configuration > "
CORS_ORIGINS = _CORS + "Allowed origins properly restricted"
CORS_PREFLIGHT = _CORS + "Preflight handling configured"
CORS_CREDENTIALS = _CORS + "Credentials handling secure"
CORS_METHODS = _CORS + "Methods and headers restricted appropriately"

_AUTH = "Authentication and Authorization > API Authentication > "
JWT = _AUTH + "JWT implementation validated"
TOKEN_EXPIRY = _AUTH + "Token expiration configured"
REFRESH_TOKENS = _AUTH + "Refresh token mechanism working"
API_KEYS = _AUTH + "API key management secure"

_SESSION = "Authentication and Authorization > Session Security > "
SESSION_ENCRYPTION = _SESSION + "Session encryption implemented (AES-256)"
SESSION_TIMEOUT = _SESSION + "Session timeout configured"
SESSION_HIJACKING_ACTIVE = _SESSION + "Session hijacking protection active"
CROSS_SESSION = _SESSION + "Cross-session integrity validated"

_HEALTH = "Monitoring and Alerting > Comprehensive Health Checks > "
HC_PRIMARY = _HEALTH + "Primary endpoint health check configured"
HC_API = _HEALTH + "API endpoint health checks active"
HC_WEBSOCKET = _HEALTH + "WebSocket connectivity monitored"
HC_EXTERNAL = _HEALTH + "External dependency checks configured"

_PERFMON = "Monitoring and Alerting > Performance Monitoring > "
RESPONSE_TIME = _PERFMON + "Response time monitoring active"
ERROR_TRACKING = _PERFMON + "Error rate tracking configured"
THROUGHPUT = _PERFMON + "Throughput monitoring enabled"
RESOURCE_ALERTS = _PERFMON + "Resource utilization alerts set"

_CRITICAL = "Monitoring and Alerting > Critical Alerts > "
PAGERDUTY = _CRITICAL + "PagerDuty integration configured"
SERVICE_DOWN = _CRITICAL + "Service down alerts active"
HIGH_ERROR_RATE = _CRITICAL + "High error rate alerts set"
PERFORMANCE_DEGRADATION = _CRITICAL + "Performance degradation alerts enabled"

_WARNING = "Monitoring and Alerting > Warning Alerts > "
SLACK = _WARNING + "Slack integration configured"
ELEVATED_ERROR_RATE = _WARNING + "Elevated error rate warnings set"
PERFORMANCE_WARNINGS = _WARNING + "Performance threshold warnings active"
RESOURCE_WARNINGS = _WARNING + "Resource utilization warnings enabled"

ACCESS_CONTROL = "Testing Validation > Vulnerability Assessment > Access control vulnerabilities resolved"
ERROR_SCENARIOS = "Testing Validation > Integration Tests > Error scenarios covered"

_BACKUP = "Business Continuity > Data Backup Strategy > "
KV_BACKUP_PROCEDURES = _BACKUP + "KV data backup procedures implemented"
R2_REPLICATION = _BACKUP + "R2 data replication configured"
ANALYTICS_RETENTION = _BACKUP + "Analytics data retention policies set"
CONFIG_BACKUP = _BACKUP + "Configuration backup automated"

_ROLLBACK = "Business Continuity > Rollback Strategy > "
BLUE_GREEN = _ROLLBACK + "Blue-green deployment configured"
AUTO_ROLLBACK = _ROLLBACK + "Automatic rollback triggers set"
MANUAL_ROLLBACK = _ROLLBACK + "Manual rollback procedures documented"
DATA_ROLLBACK = _ROLLBACK + "Data rollback procedures defined"

BUDGET_ALERTS = "Cost Optimization Validation > Cost Monitoring > Budget alerts configured ($500/month limit)"
USAGE_TRACKING = "Cost Optimization Validation > Cost Monitoring > Usage tracking implemented"

STAGING_VALIDATED = "Deployment Execution Plan > Final Validation > Staging environment fully validated"
PRODUCTION_SECRETS = "Deployment Execution Plan > Preparation > Production secrets configured"
