-- Two databases on one PostgreSQL: MLflow's backend store and ServiceLens' operational DB.
CREATE DATABASE mlflow;
CREATE DATABASE servicelens;
