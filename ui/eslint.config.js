import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-confusing-void-expression": "off",
      "@typescript-eslint/no-unnecessary-condition": ["error", { allowConstantLoopConditions: true }],
      // Each of these builds a new ICU formatter per call, and in WebKit that memory
      // piles up in the web process's malloc heap, out of the collector's sight.
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.property.name=/^toLocale(Time|Date)?String$/]",
          message: "Builds an ICU formatter per call (the desktop web process's heap grows); use the shared formatters in src/app/format.ts.",
        },
        {
          selector: "NewExpression[callee.object.name='Intl']",
          message: "Make Intl formatters once, in src/app/format.ts, and share them.",
        },
      ],
    },
  },
  {
    files: ["src/app/format.ts"],
    rules: { "no-restricted-syntax": "off" },
  },
  {
    files: ["eslint.config.js", "scripts/**/*.mjs"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { ...globals.node } },
  },
);
