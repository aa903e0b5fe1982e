// The realistic 20-rule route policy both identity benchmarks use: four denies (countries, CIDRs,
// method + path, group + environment), then allows by group, email domain + time window, claims,
// service account, role + night window, email, user, environment, country, credential kind + CIDR,
// certificate SAN, group + method + path.
import type { RoutePolicyInput } from "../../src/identity/policy/index.ts";

export const POLICY = {
  rules: [
    { name: "embargo", deny: { countries: ["KP", "IR", "SY", "CU"] } },
    { name: "known-bad", deny: { sourceCidrs: ["203.0.113.0/24", "198.51.100.0/24", "2001:db8:bad::/48"] } },
    { name: "no-deletes-on-audit", deny: { methods: ["DELETE"], paths: ["/audit/**"] } },
    { name: "no-contractors-on-prod", deny: { groups: ["contractors"], environments: ["prod"] } },
    {
      allow: {
        groups: ["sre"],
        methods: ["GET", "POST", "PUT"],
        paths: ["/admin/**"],
        sourceCidrs: ["10.0.0.0/8"],
      },
    },
    { allow: { groups: ["sre", "platform"], paths: ["/metrics", "/healthz"] } },
    { allow: { groups: ["finance"], paths: ["/billing/**", "/reports/*/finance"], methods: ["GET"] } },
    {
      allow: {
        domains: ["example.com"],
        paths: ["/wiki/**"],
        time: {
          days: ["mon", "tue", "wed", "thu", "fri"],
          from: "08:00",
          to: "19:00",
          timeZone: "Europe/London",
        },
      },
    },
    { allow: { claims: { department: ["security"] }, roles: ["oncall"] } },
    { allow: { claims: { "org.unit": ["payments", "risk"] }, paths: ["/payments/**"] } },
    { allow: { serviceAccounts: ["billing-worker", "invoice-mailer"], paths: ["/api/*/invoices/**"] } },
    { allow: { serviceAccounts: ["metrics-scraper"], paths: ["/metrics"], methods: ["GET"] } },
    {
      allow: {
        roles: ["db-admin"],
        paths: ["/db/**"],
        time: { from: "22:00", to: "06:00", timeZone: "Asia/Kolkata" },
      },
    },
    { allow: { emails: ["ceo@example.com", "cfo@example.com"], paths: ["/board/**"] } },
    { allow: { users: ["corp:u7", "corp:u13"], paths: ["/beta/**"] } },
    { allow: { groups: ["dev"], environments: ["staging", "dev"] } },
    { allow: { groups: ["support"], paths: ["/tickets/**"], countries: ["IN", "GB", "US"] } },
    {
      allow: { kind: "service", credential: "client-certificate", sourceCidrs: ["10.20.0.0/16", "fd00::/8"] },
    },
    { allow: { clientCertificate: { sans: ["DNS:build.internal"] }, paths: ["/artifacts/**"] } },
    { allow: { groups: ["auditors"], methods: ["GET"], paths: ["/audit/**", "/reports/**"] } },
  ],
} satisfies RoutePolicyInput;
