"""Where does the model fail? Clause-linked eval suites, runs, grading and per-clause violation reports."""
