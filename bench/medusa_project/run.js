// Medusa v1's own commands, called as its CLI (`medusa migrations run`, `medusa user`,
// `medusa start`) calls them; that CLI's lookup of the local project fails outside a project
// created by `medusa new`. Run from the project directory (bench/medusa.py copies this file there):
//   node run.js migrate | node run.js user EMAIL PASSWORD | node run.js start PORT
const dir = process.cwd();
const [action, a, b] = process.argv.slice(2);
const fail = (e) => { console.error(e); process.exit(1); };
if (action === "migrate") {
  // The command reads its action from process.argv after dropping three entries.
  process.argv = [process.argv[0], "medusa", "migrations", "run"];
  require("@medusajs/medusa/dist/commands/migrate").default({ directory: dir }).then(() => process.exit(0), fail);
} else if (action === "user") {
  // Exits by itself once the user exists.
  require("@medusajs/medusa/dist/commands/user").default({ directory: dir, email: a, password: b, id: "usr_bench" });
} else if (action === "start") {
  require("@medusajs/medusa/dist/commands/start").default({ directory: dir, port: Number(a) });
} else {
  fail(`unknown action ${action}`);
}
