// A test aid: Fides' example datasets (postgres_example_test_dataset and mongo_test, Apache-2.0,
// shared/eval/privacy/fides/) as DataMap objects built in code, so the planner and engine tests
// do not depend on the YAML loader; plus seed rows for two customers.
import type { Collection, DataMap, Dataset, Field, FieldReference } from "../map/model.ts";
import type { MaskingStrategy } from "../masking.ts";

export interface FieldSpec {
  name: string;
  cat?: string[];
  identity?: string;
  pk?: boolean;
  type?: string;
  length?: number;
  /** [dataset, "collection.field.path", direction]. */
  ref?: [string, string, ("from" | "to")?][];
  mask?: MaskingStrategy;
  fields?: FieldSpec[];
}

function field(s: FieldSpec, parent?: string): Field {
  const path = parent ? `${parent}.${s.name}` : s.name;
  return {
    name: s.name,
    path,
    categories: s.cat ?? [],
    ...(s.identity ? { identity: s.identity } : {}),
    primaryKey: s.pk ?? false,
    ...(s.type ? { dataType: s.type } : {}),
    ...(s.length ? { length: s.length } : {}),
    references: (s.ref ?? []).map(([dataset, target, direction]): FieldReference => {
      const [collection, ...rest] = target.split(".");
      return {
        dataset,
        collection: collection as string,
        field: rest.join("."),
        ...(direction ? { direction } : {}),
      };
    }),
    ...(s.mask ? { masking: s.mask } : {}),
    fields: (s.fields ?? []).map((f) => field(f, path)),
  };
}

export function collection(
  dataset: string,
  name: string,
  fields: FieldSpec[],
  extra: Partial<Collection> = {},
): Collection {
  return {
    dataset,
    name,
    fields: fields.map((f) => field(f)),
    after: [],
    eraseAfter: [],
    erasure: "mask",
    ...extra,
  };
}

export const dataset = (key: string, collections: Collection[]): Dataset => ({ key, name: key, collections });

export const mapOf = (...datasets: Dataset[]): DataMap => ({
  systems: [],
  purposes: [],
  datasets,
  retention: [],
});

export const PG = "postgres_example_test_dataset";
export const MONGO = "mongo_test";
const ops = ["system.operations"];

export function postgresExample(): Dataset {
  const c = (name: string, fields: FieldSpec[], extra?: Partial<Collection>) =>
    collection(PG, name, fields, extra);
  return dataset(PG, [
    c("address", [
      { name: "city", cat: ["user.contact.address.city"] },
      { name: "house", cat: ["user.contact.address.street"] },
      { name: "id", cat: ops, pk: true },
      { name: "state", cat: ["user.contact.address.state"] },
      { name: "street", cat: ["user.contact.address.street"] },
      { name: "zip", cat: ["user.contact.address.postal_code"] },
    ]),
    c("customer", [
      { name: "address_id", cat: ops, ref: [[PG, "address.id", "to"]] },
      { name: "created", cat: ops },
      { name: "email", cat: ["user.contact.email"], identity: "email", type: "string" },
      { name: "id", cat: ["user.unique_id"], pk: true },
      { name: "name", cat: ["user.name"], type: "string", length: 40 },
    ]),
    c("employee", [
      { name: "address_id", cat: ops, ref: [[PG, "address.id", "to"]] },
      { name: "email", cat: ["user.contact.email"], identity: "email", type: "string" },
      { name: "id", cat: ["user.unique_id"], pk: true },
      {
        name: "name",
        cat: ["user.name"],
        type: "string",
        mask: { strategy: "string_rewrite", configuration: { rewrite_value: "testing" } },
      },
    ]),
    c("login", [
      { name: "customer_id", cat: ["user.unique_id"], ref: [[PG, "customer.id", "from"]] },
      { name: "id", cat: ops, pk: true },
      { name: "time", cat: ["user.sensor"] },
    ]),
    c("orders", [
      { name: "customer_id", cat: ["user.unique_id"], ref: [[PG, "customer.id", "from"]] },
      { name: "id", cat: ops, pk: true },
      { name: "shipping_address_id", cat: ops, ref: [[PG, "address.id", "to"]] },
    ]),
    c("order_item", [
      { name: "order_id", cat: ops, ref: [[PG, "orders.id", "from"]] },
      { name: "product_id", cat: ops, ref: [[PG, "product.id", "to"]] },
      { name: "quantity", cat: ops },
    ]),
    c("payment_card", [
      { name: "billing_address_id", cat: ops, ref: [[PG, "address.id", "to"]] },
      { name: "ccn", cat: ["user.financial.bank_account"] },
      { name: "code", cat: ["user.financial"] },
      { name: "customer_id", cat: ["user.unique_id"], ref: [[PG, "customer.id", "from"]] },
      { name: "id", cat: ops, pk: true },
      { name: "name", cat: ["user.financial"] },
      { name: "preferred", cat: ["user"] },
    ]),
    c("product", [
      { name: "id", cat: ops, pk: true },
      { name: "name", cat: ops },
      { name: "price", cat: ops },
    ]),
    c("report", [
      { name: "email", cat: ["user.contact.email"], identity: "email", type: "string" },
      { name: "id", cat: ops, pk: true },
      { name: "month", cat: ops },
      { name: "name", cat: ops },
      { name: "total_visits", cat: ops },
      { name: "year", cat: ops },
    ]),
    c("service_request", [
      { name: "alt_email", cat: ["user.contact.email"], identity: "email", type: "string" },
      { name: "closed", cat: ops },
      { name: "email", cat: ops, identity: "email", type: "string" },
      { name: "employee_id", cat: ["user.unique_id"], ref: [[PG, "employee.id", "from"]] },
      { name: "id", cat: ops, pk: true },
      { name: "opened", cat: ops },
    ]),
    c("visit", [
      { name: "email", cat: ["user.contact.email"], identity: "email", type: "string" },
      { name: "last_visit", cat: ops },
    ]),
  ]);
}

export function mongoExample(): Dataset {
  const c = (name: string, fields: FieldSpec[], extra?: Partial<Collection>) =>
    collection(MONGO, name, fields, extra);
  return dataset(MONGO, [
    c("customer_details", [
      { name: "_id", cat: ops, pk: true },
      { name: "customer_id", cat: ["user.unique_id"], ref: [[PG, "customer.id", "from"]] },
      { name: "customer_uuid", cat: ["user.unique_id"], type: "string" },
      { name: "gender", cat: ["user.demographic.gender"], type: "string" },
      { name: "birthday", cat: ["user.demographic.date_of_birth"], type: "string" },
      {
        name: "workplace_info",
        type: "object",
        fields: [
          { name: "employer", type: "string" },
          { name: "position", cat: ["user.job_title"], type: "string" },
          { name: "direct_reports", cat: ["user.name"], type: "string[]" },
        ],
      },
      {
        name: "emergency_contacts",
        type: "object[]",
        fields: [
          { name: "name", cat: ["user.name"], type: "string" },
          { name: "relationship", type: "string" },
          { name: "phone", cat: ["user.contact.phone_number"], type: "string" },
        ],
      },
      { name: "children", cat: ["user.childrens"], type: "string[]" },
      { name: "travel_identifiers", type: "string[]" },
      {
        name: "comments",
        type: "object[]",
        fields: [
          { name: "comment_id", type: "string", ref: [[MONGO, "conversations.thread.comment", "to"]] },
        ],
      },
    ]),
    c("internal_customer_profile", [
      { name: "_id", cat: ops, pk: true, type: "object_id" },
      {
        name: "customer_identifiers",
        fields: [
          {
            name: "internal_id",
            type: "string",
            ref: [[MONGO, "customer_feedback.customer_information.internal_customer_id", "from"]],
          },
          { name: "derived_emails", cat: ["user"], type: "string[]", identity: "email" },
          { name: "derived_phone", cat: ["user"], type: "string[]", identity: "phone_number" },
        ],
      },
      { name: "derived_interests", cat: ["user"], type: "string[]" },
    ]),
    c("customer_feedback", [
      { name: "_id", cat: ops, pk: true, type: "object_id" },
      {
        name: "customer_information",
        fields: [
          { name: "email", type: "string", identity: "email" },
          { name: "phone", cat: ["user.contact.phone_number"], type: "string" },
          { name: "internal_customer_id", cat: ops, type: "string" },
        ],
      },
      { name: "rating", cat: ["user"], type: "integer" },
      { name: "date", cat: ops, type: "string" },
      { name: "message", cat: ["user"], type: "string" },
    ]),
    c("flights", [
      { name: "_id", cat: ops, pk: true, type: "object_id" },
      {
        name: "passenger_information",
        fields: [
          {
            name: "passenger_ids",
            type: "string[]",
            ref: [[MONGO, "customer_details.travel_identifiers", "from"]],
          },
          { name: "full_name", cat: ["user.name"], type: "string" },
        ],
      },
      { name: "flight_no" },
      { name: "date" },
      { name: "pilots", cat: ops, type: "string[]" },
      { name: "plane", cat: ops, type: "integer" },
    ]),
    c("conversations", [
      { name: "_id", cat: ops, pk: true, type: "object_id" },
      {
        name: "thread",
        type: "object[]",
        fields: [
          { name: "comment", type: "string" },
          { name: "message", type: "string" },
          { name: "chat_name", cat: ["user.name"], type: "string" },
          { name: "ccn", cat: ["user.financial.bank_account"], type: "string" },
        ],
      },
    ]),
    c("employee", [
      { name: "_id", cat: ops, pk: true, type: "object_id" },
      { name: "email", cat: ["user.contact.email"], identity: "email", type: "string" },
      { name: "id", cat: ["user.unique_id"], pk: true, ref: [[MONGO, "flights.pilots", "from"]] },
      { name: "name", cat: ["user.name"], type: "string" },
    ]),
    c("aircraft", [
      { name: "_id", cat: ops, pk: true, type: "object_id" },
      { name: "planes", cat: ops, type: "string[]", ref: [[MONGO, "flights.plane", "from"]] },
      { name: "model", cat: ops, type: "string" },
    ]),
    c("payment_card", [
      { name: "_id", cat: ops, pk: true, type: "object_id" },
      { name: "billing_address_id", cat: ops },
      {
        name: "ccn",
        cat: ["user.financial.bank_account"],
        ref: [[MONGO, "conversations.thread.ccn", "from"]],
      },
      { name: "code", cat: ["user.financial"] },
      { name: "customer_id", cat: ["user.unique_id"] },
      { name: "id", cat: ops, pk: true },
      { name: "name", cat: ["user.financial"] },
      { name: "preferred", cat: ["user"] },
    ]),
    c("rewards", [
      { name: "_id", pk: true, type: "object_id" },
      {
        name: "owner",
        type: "object[]",
        fields: [
          {
            name: "phone",
            cat: ["user.contact.phone_number"],
            type: "string",
            ref: [[MONGO, "internal_customer_profile.customer_identifiers.derived_phone", "from"]],
          },
          { name: "shopper_name" },
        ],
      },
      { name: "points", type: "integer" },
      { name: "expiration_date" },
    ]),
  ]);
}

/** Rows of both example datasets for two customers, Ana (id 1) and Bob (id 2), keyed by "dataset.collection". */
export function seedRows(): Record<string, Record<string, unknown>[]> {
  return {
    [`${PG}.address`]: [
      { id: 1, city: "Lisbon", house: "12", state: "LX", street: "Rua Augusta", zip: "1100-048" },
      { id: 2, city: "Porto", house: "3", state: "PT", street: "Rua Flores", zip: "4050-262" },
      { id: 3, city: "Faro", house: "9", state: "FA", street: "Rua Sol", zip: "8000-001" },
    ],
    [`${PG}.customer`]: [
      {
        id: 1,
        email: "ana@example.com",
        name: "Ana Silva",
        address_id: 1,
        created: "2024-01-01",
        internal_note: "vip",
      },
      {
        id: 2,
        email: "bob@example.com",
        name: "Bob Stone",
        address_id: 2,
        created: "2024-02-01",
        internal_note: "none",
      },
    ],
    [`${PG}.employee`]: [
      { id: 10, email: "ana@example.com", name: "Ana S.", address_id: 3 },
      { id: 11, email: "eve@example.com", name: "Eve Ward", address_id: 2 },
    ],
    [`${PG}.login`]: [
      { id: 100, customer_id: 1, time: "2024-03-01T10:00:00Z" },
      { id: 101, customer_id: 1, time: "2024-03-02T10:00:00Z" },
      { id: 102, customer_id: 2, time: "2024-03-03T10:00:00Z" },
    ],
    [`${PG}.orders`]: [
      { id: "ord-1", customer_id: 1, shipping_address_id: 1 },
      { id: "ord-2", customer_id: 2, shipping_address_id: 2 },
    ],
    [`${PG}.order_item`]: [
      { order_id: "ord-1", product_id: 1, quantity: 2 },
      { order_id: "ord-2", product_id: 2, quantity: 1 },
    ],
    [`${PG}.payment_card`]: [
      {
        id: "pay-1",
        customer_id: 1,
        ccn: "4111111111111111",
        code: "321",
        name: "Ana Silva",
        preferred: true,
        billing_address_id: 1,
      },
      {
        id: "pay-2",
        customer_id: 2,
        ccn: "5500000000000004",
        code: "123",
        name: "Bob Stone",
        preferred: false,
        billing_address_id: 2,
      },
    ],
    [`${PG}.product`]: [
      { id: 1, name: "Tea", price: 5 },
      { id: 2, name: "Cup", price: 9 },
    ],
    [`${PG}.report`]: [
      { id: 1, email: "ana@example.com", month: 1, name: "jan", total_visits: 3, year: 2024 },
      { id: 2, email: "bob@example.com", month: 1, name: "jan", total_visits: 1, year: 2024 },
    ],
    [`${PG}.service_request`]: [
      {
        id: "sr-1",
        email: "ana@example.com",
        alt_email: "ana.alt@example.com",
        opened: "2024-01-05",
        closed: null,
        employee_id: 10,
      },
      {
        id: "sr-2",
        email: "bob@example.com",
        alt_email: null,
        opened: "2024-01-06",
        closed: null,
        employee_id: 11,
      },
    ],
    [`${PG}.visit`]: [
      { email: "ana@example.com", last_visit: "2024-04-01" },
      { email: "bob@example.com", last_visit: "2024-04-02" },
    ],
    [`${MONGO}.customer_details`]: [
      {
        _id: "cd-1",
        customer_id: 1,
        customer_uuid: "3b241101-e2bb-4255-8caf-4136c566a962",
        gender: "female",
        birthday: "1990-05-01",
        workplace_info: { employer: "Acme", position: "Engineer", direct_reports: ["Tom", "Sue"] },
        emergency_contacts: [
          { name: "Rui", relationship: "brother", phone: "+351900000001" },
          { name: "Lia", relationship: "friend", phone: "+351900000002" },
        ],
        children: ["Kai"],
        travel_identifiers: ["A111", "A112"],
        comments: [{ comment_id: "com-1" }],
      },
      {
        _id: "cd-2",
        customer_id: 2,
        customer_uuid: "9c858901-8a57-4791-81fe-4c455b099bc9",
        gender: "male",
        birthday: "1985-01-01",
        workplace_info: { employer: "Globex", position: "Chef", direct_reports: [] },
        emergency_contacts: [{ name: "Ann", relationship: "sister", phone: "+351900000009" }],
        children: [],
        travel_identifiers: ["B222"],
        comments: [{ comment_id: "com-9" }],
      },
    ],
    [`${MONGO}.internal_customer_profile`]: [
      {
        _id: "icp-1",
        customer_identifiers: {
          internal_id: "int-1",
          derived_emails: ["ana@example.com"],
          derived_phone: ["+351911111111"],
        },
        derived_interests: ["tea"],
      },
      {
        _id: "icp-2",
        customer_identifiers: {
          internal_id: "int-2",
          derived_emails: ["bob@example.com"],
          derived_phone: ["+351922222222"],
        },
        derived_interests: ["cups"],
      },
    ],
    [`${MONGO}.customer_feedback`]: [
      {
        _id: "fb-1",
        customer_information: {
          email: "ana@example.com",
          phone: "+351911111111",
          internal_customer_id: "int-1",
        },
        rating: 5,
        date: "2024-05-01",
        message: "Great tea",
      },
      {
        _id: "fb-2",
        customer_information: {
          email: "bob@example.com",
          phone: "+351922222222",
          internal_customer_id: "int-2",
        },
        rating: 2,
        date: "2024-05-02",
        message: "Cup broke",
      },
    ],
    [`${MONGO}.flights`]: [
      {
        _id: "fl-1",
        passenger_information: { passenger_ids: ["A111", "Z999"], full_name: "Ana Silva" },
        flight_no: "TP123",
        date: "2024-06-01",
        pilots: ["p-1"],
        plane: 7,
      },
      {
        _id: "fl-2",
        passenger_information: { passenger_ids: ["B222"], full_name: "Bob Stone" },
        flight_no: "TP999",
        date: "2024-06-02",
        pilots: ["p-2"],
        plane: 8,
      },
    ],
    [`${MONGO}.conversations`]: [
      {
        _id: "cv-1",
        thread: [
          { comment: "com-1", message: "hello", chat_name: "Ana", ccn: "4111111111111111" },
          { comment: "com-2", message: "hi", chat_name: "Agent", ccn: null },
        ],
      },
      {
        _id: "cv-2",
        thread: [{ comment: "com-9", message: "yo", chat_name: "Bob", ccn: "5500000000000004" }],
      },
    ],
    [`${MONGO}.employee`]: [
      { _id: "me-1", email: "pilot1@example.com", id: "p-1", name: "Pilot One" },
      { _id: "me-2", email: "ana@example.com", id: "p-7", name: "Ana Pilot" },
      { _id: "me-3", email: "pilot2@example.com", id: "p-2", name: "Pilot Two" },
    ],
    [`${MONGO}.aircraft`]: [
      { _id: "ac-1", planes: [7], model: "A320" },
      { _id: "ac-2", planes: [8], model: "A321" },
    ],
    [`${MONGO}.payment_card`]: [
      {
        _id: "mpc-1",
        id: "mp-1",
        ccn: "4111111111111111",
        code: "321",
        customer_id: 1,
        name: "Ana",
        preferred: true,
        billing_address_id: 1,
      },
      {
        _id: "mpc-2",
        id: "mp-2",
        ccn: "5500000000000004",
        code: "123",
        customer_id: 2,
        name: "Bob",
        preferred: true,
        billing_address_id: 2,
      },
    ],
    [`${MONGO}.rewards`]: [
      {
        _id: "rw-1",
        owner: [{ phone: "+351911111111", shopper_name: "ana" }],
        points: 10,
        expiration_date: "2025-01-01",
      },
      {
        _id: "rw-2",
        owner: [{ phone: "+351922222222", shopper_name: "bob" }],
        points: 3,
        expiration_date: "2025-01-01",
      },
    ],
  };
}
