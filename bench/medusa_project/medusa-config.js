// Written by Giftwell's bench/medusa.py: the smallest Medusa v1 project (no Redis, no plugins).
module.exports = {
  projectConfig: {
    database_url: process.env.DATABASE_URL,
    database_type: "postgres",
    jwt_secret: process.env.JWT_SECRET || "bench-jwt-secret",
    cookie_secret: process.env.COOKIE_SECRET || "bench-cookie-secret",
    admin_cors: "http://localhost:7000",
    store_cors: "http://localhost:8000",
  },
  plugins: [],
  modules: {},
  featureFlags: {},
};
